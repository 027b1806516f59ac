"""Large read-only tables of the models that ship in packages, memory-mapped from a cache file.

A worker's memory is what a deployment pays for each process (issue 14: ≤ 250 MB). The
sentence encoder's word table (65 MB) and the language identifier's tokenizer automaton
(38 MB) are read-only and mostly unread: decompressed into memory, every process holds all of
them; written once to a file here and memory-mapped, a process keeps only the pages it reads,
clean and shared with the other processes of the machine.

`mapped(name, shape, dtype, fill)` returns the table, writing it first when the cache holds no
file of that name (the name carries the source's version: a new version writes a new file);
where the cache cannot be written or read, `fill` builds it in memory instead, as before.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import structlog

log = structlog.get_logger(__name__)


def cache_dir() -> Path:
    """`$XDG_CACHE_HOME/slack-triage`, else ~/.cache/slack-triage."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "slack-triage"


def mapped(
    name: str, shape: tuple[int, ...], dtype: type, fill: Callable[[np.ndarray], None]
) -> np.ndarray:
    """The table `name` (`shape`, `dtype`), memory-mapped read-only; `fill` writes its
    values into the array it is given, once per machine (or per process, without a cache)."""
    path = cache_dir() / f"{name}.npy"
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, partial = tempfile.mkstemp(dir=path.parent, suffix=".partial")
            os.close(fd)
            try:
                table = np.lib.format.open_memmap(partial, "w+", dtype=dtype, shape=shape)
                fill(table)
                table.flush()
                del table
                os.replace(partial, path)  # whole or not at all, whoever writes it first
            finally:
                Path(partial).unlink(missing_ok=True)
        found: np.ndarray = np.load(path, mmap_mode="r")
        if found.shape == shape and found.dtype == np.dtype(dtype):
            return found
        log.warning("array_cache.unexpected", path=str(path), shape=found.shape)
    except OSError as exc:
        log.warning("array_cache.unavailable", path=str(path), error=str(exc))
    held: np.ndarray = np.empty(shape, dtype=dtype)
    fill(held)
    return held
