"""How `triage backfill` shows its progress: a rich bar on a terminal, plain lines elsewhere.

Both implement `workers.backfill.Progress`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class LineProgress:
    """Plain progress lines (not a terminal: logs, CI)."""

    def __init__(self, echo: Callable[[str], None]) -> None:
        self.echo = echo
        self.counts: dict[str, list[int]] = {}

    def channel(self, channel_id: str, index: int, total: int) -> None:
        self.counts[channel_id] = [0, 0]
        self.echo(f"backfill: channel {channel_id} ({index}/{total})")

    def advance(self, channel_id: str, threads: int, messages: int) -> None:
        counts = self.counts.setdefault(channel_id, [0, 0])
        counts[0] += threads
        counts[1] += messages
        self.echo(f"backfill: {channel_id}: {counts[0]} threads, {counts[1]} messages")


class BarProgress:
    """A rich progress bar on a terminal: one bar over the channels, one line per channel."""

    def __init__(self, bar: Any) -> None:  # a started rich.progress.Progress
        self.bar = bar
        self.overall: Any = None
        self.task: Any = None

    def channel(self, channel_id: str, index: int, total: int) -> None:
        if self.overall is None:
            self.overall = self.bar.add_task("all channels", total=total, messages=0)
        if self.task is not None:
            self.bar.update(self.task, total=1, completed=1)
            self.bar.advance(self.overall)
        self.task = self.bar.add_task(f"{channel_id}", total=None, messages=0)

    def advance(self, channel_id: str, threads: int, messages: int) -> None:
        for task_id in (self.task, self.overall):
            done = self.bar.tasks[task_id].fields.get("messages", 0)
            self.bar.update(task_id, messages=done + messages)
