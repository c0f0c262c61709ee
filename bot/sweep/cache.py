"""Finished cells on disk, one JSON file per cell key: a re-run or an interrupted sweep
computes only what is missing. Written by the client as each result arrives (workers
need no access to it), atomically (a temporary file renamed over), so a crash leaves
either the whole row or none. Failed cells are not kept: a re-run tries them again."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError

from bot.errors import ConfigError
from bot.sweep.cell import CellRow


class RowCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"sweep cache {folder}: cannot create ({exc.strerror}); fix the folder's permissions or paths.var_dir"
            ) from None

    def get(self, key: str) -> CellRow | None:
        path = self.folder / f"{key}.json"
        try:
            return CellRow.model_validate_json(path.read_bytes())
        except (OSError, ValidationError, ValueError):  # absent or unreadable: computed again
            return None

    def put(self, row: CellRow) -> None:
        if not row.ok:
            return
        path = self.folder / f"{row.key}.json"
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(row.model_dump_json(), encoding="utf-8")
        os.replace(partial, path)
