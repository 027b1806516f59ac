"""Read-only model tables memory-mapped from a cache file (integrations/array_cache.py): written
once, mapped after, held in memory where no cache can be written; and the two tables that use
it give the same answers either way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from integrations.array_cache import mapped


def test_a_table_is_written_once_then_mapped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    fills: list[int] = []

    def fill(table: np.ndarray) -> None:
        fills.append(1)
        table[:] = np.arange(table.size, dtype=np.uint32).reshape(table.shape)

    first = mapped("numbers-v1", (4, 256), np.uint32, fill)
    second = mapped("numbers-v1", (4, 256), np.uint32, fill)
    assert fills == [1]  # the second process (or call) reads the file
    assert isinstance(second, np.memmap) and not second.flags.writeable
    assert np.array_equal(first, second) and int(second[3, 255]) == 1023
    assert [p.name for p in (tmp_path / "slack-triage").iterdir()] == ["numbers-v1.npy"]
    other = mapped("numbers-v1", (2, 256), np.uint32, fill)  # not what the file holds
    assert other.shape == (2, 256) and fills == [1, 1]


def test_a_cache_path_that_is_no_folder_leaves_the_table_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    table = mapped("numbers-v1", (8,), np.uint8, lambda t: t.fill(7))
    assert not isinstance(table, np.memmap) and table.tolist() == [7] * 8
