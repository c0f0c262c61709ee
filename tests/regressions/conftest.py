"""The fixtures the regressions share with the modules they guard."""

from tests.venues.conftest import fake  # noqa: F401 (the live broker's fake exchange: pytest finds it by name)
