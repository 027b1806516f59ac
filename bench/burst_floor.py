"""The floor under the ack: how long a lone durable commit takes while the burst is sent.

An acknowledgement commits the customer's message before it answers (SPEC: durable before the
ack), so it can be no faster than one commit on the same database under the same load. This
child process (`python bench/burst_floor.py DATABASE_URL RESULT`, started by `CommitProbe`)
INSERTs one row of a table of its own (dropped at the end) in autocommit (`synchronous_commit`
as the server has it), from `THREADS` threads, each pausing `PAUSE` between commits so it
samples the load rather than adding much to it, until its stdin closes; then it writes each
commit's start (wall clock) and milliseconds as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

THREADS = 4
PAUSE = 0.05  # seconds: about 80 commits a second in all, next to hundreds of the app's


class CommitProbe:
    """`start()` before the burst, `stop()` after it: the commits' (start, ms)."""

    def __init__(self, database_url: str, workdir: Path) -> None:
        self.database_url, self.result = database_url, workdir / "commits.json"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if not self.database_url.startswith("postgresql"):  # SQLite: one process, no floor
            return
        self.process = subprocess.Popen(
            [sys.executable, __file__, self.database_url, str(self.result)],
            stdin=subprocess.PIPE,
        )

    def stop(self) -> list[tuple[float, float]]:
        if self.process is None:
            return []
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)
        return [(start, ms) for start, ms in json.loads(self.result.read_text())]


def during_sends(commits: list[tuple[float, float]], acks: list[Any]) -> list[float]:
    """The milliseconds of the commits that started while the burst's POSTs were in flight."""
    if not acks:
        return []
    first = min(ack.sent for ack in acks)
    last = max(ack.sent + ack.ms / 1000 for ack in acks)
    return [ms for started, ms in commits if first <= started <= last]


def _probe(database_url: str, result: Path) -> None:
    import psycopg

    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_commit_probe (id bigserial, body text)")
    stop = threading.Event()
    commits: list[tuple[float, float]] = []  # list.append is thread-safe

    def commit_until_stopped() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            while not stop.is_set():
                started, clock = time.time(), time.perf_counter()
                conn.execute("INSERT INTO bench_commit_probe (body) VALUES (%s)", ("x" * 600,))
                commits.append((started, (time.perf_counter() - clock) * 1000))
                stop.wait(PAUSE)

    threads = [threading.Thread(target=commit_until_stopped) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    sys.stdin.read()  # until the benchmark closes it
    stop.set()
    for thread in threads:
        thread.join()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE bench_commit_probe")
    result.write_text(json.dumps(commits))


if __name__ == "__main__":
    _probe(sys.argv[1], Path(sys.argv[2]))
