"""Running cells on Dask distributed: a LocalCluster of worker processes on this
machine by default, an existing cluster by its scheduler address, or one worker thread
inside this process (``workers=0``: tests, debugging). The three differ only in the
client; cells are submitted and collected the same way.

Workers read the history from the path the cell names (the bundled sample when none):
on a cluster of other machines that path must be shared (or the package installed, for
the sample). Each cell is one task with small inputs (its settings, span and data path)
and a small result (a row); as each one finishes, ``on_row`` records it (the cache, the
progress bar), so an interrupted sweep keeps every finished cell.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

from bot.errors import ConfigError
from bot.sweep.cell import CellRow, CellTask, run_cell

INSTALL = "`bot sweep` needs Dask: pip install 'bot[sweep]' (or pip install 'dask[distributed]')"


def require_dask() -> None:
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ConfigError(INSTALL) from None


@contextlib.contextmanager
def dask_client(*, scheduler: str | None, workers: int) -> Iterator:
    """A client on the cluster the options name; the cluster it started is closed on exit."""
    import dask
    from distributed import Client, LocalCluster

    # the workers' statistical profiler samples every task's stack every 10 ms, for a
    # dashboard a sweep never opens
    dask.config.set({"distributed.worker.profile.enabled": False})

    if scheduler:
        try:
            _knock(scheduler)  # a refused port fails here at once, not after the client's retries
            client = Client(scheduler, timeout=10)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConfigError(
                f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({exc}); start one (dask scheduler) or "
                f"drop --scheduler"
            ) from None
        with client:
            yield client
        return
    options = {"dashboard_address": None, "threads_per_worker": 1, "silence_logs": logging.ERROR}
    if workers == 0:
        cluster = LocalCluster(n_workers=1, processes=False, **options)
    else:
        cluster = LocalCluster(n_workers=workers, processes=True, **options)
    with cluster, Client(cluster) as client:
        yield client


def _knock(address: str) -> None:
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme in ("tcp", "tls") and parts.hostname and parts.port:
        with socket.create_connection((parts.hostname, parts.port), timeout=5):
            pass


def run_tasks(client, tasks: dict[str, CellTask], *, on_row: Callable[[CellRow], None]) -> None:
    """Every task as one Dask task; each row handed to ``on_row`` as it arrives, failures included."""
    from distributed import as_completed

    futures = {client.submit(run_cell, task, key, key=f"cell-{key}", pure=False): key for key, task in tasks.items()}
    for future in as_completed(futures):
        key = futures[future]
        try:
            row = future.result()
        except Exception as exc:  # the worker died, or the task could not travel: still a row
            row = CellRow(key=key, ok=False, error=f"{type(exc).__name__}: {exc}")
        on_row(row)
