"""The app as a deployment runs it, for bench/burst.py: `triage serve` and `triage worker`.

Each is the installed `triage` command in a process of its own (its own session, so the
children it forks, gunicorn's workers and RQ's scheduler, stop with it), started in an empty
working directory (no stray `.env` is read) with only the environment a user would set. Their
peak resident memory is read from /proc (VmHWM) of each process and its children, sampled while
they run, since a child that exits takes its own high-water mark with it.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from redis import Redis
from rq import Worker

from tests.harness import free_port, kill_group

# What a user's shell passes on besides the app's settings (PYTHONPATH: to run another checkout).
PASSED_ON = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH")
READY_SECONDS = 90.0  # two cores shared with other jobs: a cold start can take a while
STOP_SECONDS = 5.0  # from SIGTERM to SIGKILL; who took longer is reported (`unstopped`)


def app_env(settings: dict[str, str | None]) -> dict[str, str]:
    """The processes' whole environment: the settings given (None: left unset, the app's
    default) and what a shell passes on, nothing else of this process's."""
    env = {name: os.environ[name] for name in PASSED_ON if name in os.environ}
    env.update({name: value for name, value in settings.items() if value is not None})
    return env


def triage_command() -> list[str]:
    """The `triage` console script of this Python's environment (what a user runs)."""
    script = Path(sys.executable).parent / "triage"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from app.cli import main; main()"]


@dataclass
class Member:
    """One process of the fleet: its role, the process, its log and what it is reached at."""

    role: str  # "serve 1", "worker 2"...
    process: subprocess.Popen[bytes]
    log: Path
    url: str | None = None  # a serve's base URL
    health_file: Path | None = None  # a worker's


@dataclass
class Fleet:
    """`serves` × `triage serve` and `workers` × `triage worker` sharing one environment."""

    env: dict[str, str]
    workdir: Path
    members: list[Member] = field(default_factory=list)
    peaks: dict[int, tuple[str, int]] = field(default_factory=dict)  # pid: (label, VmHWM kB)
    unstopped: list[str] = field(default_factory=list)  # roles SIGTERM did not stop in time
    _sampling: threading.Event = field(default_factory=threading.Event)

    @property
    def urls(self) -> list[str]:
        return [m.url for m in self.members if m.url]

    def start(self, *, serves: int, web_workers: int, workers: int) -> None:
        """Start them all, then wait until each serve answers /healthz and each worker has
        swept once (its health file) and registered with RQ."""
        for n in range(1, serves + 1):
            port = str(free_port())
            command = ["serve", "--host", "127.0.0.1", "--port", port, "--workers"]
            self._spawn(f"serve {n}", [*command, str(web_workers)], url=f"http://127.0.0.1:{port}")
        for n in range(1, workers + 1):
            health = self.workdir / f"worker-{n}.alive"
            self._spawn(f"worker {n}", ["worker", "--health-file", str(health)], health=health)
        threading.Thread(target=self._sample, name="rss-sampler", daemon=True).start()
        deadline = time.monotonic() + READY_SECONDS
        for member in self.members:
            while not self._ready(member):
                if member.process.poll() is not None or time.monotonic() > deadline:
                    tail = member.log.read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"{member.role} did not start; its log ends:\n{tail}")
                time.sleep(0.2)
        with Redis.from_url(self.env["REDIS_URL"]) as redis:
            while len({f"{w.hostname}:{w.pid}" for w in Worker.all(connection=redis)}) < workers:
                if time.monotonic() > deadline:
                    raise RuntimeError("the workers did not register with RQ")
                time.sleep(0.2)

    def _spawn(
        self, role: str, args: list[str], *, url: str | None = None, health: Path | None = None
    ) -> None:
        log = self.workdir / f"{role.replace(' ', '-')}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [*triage_command(), *args],
                env=self.env,
                cwd=self.workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.members.append(Member(role, process, log, url, health))

    def _ready(self, member: Member) -> bool:
        if member.health_file is not None:
            return member.health_file.exists()
        assert member.url is not None
        conn = http.client.HTTPConnection(member.url.removeprefix("http://"), timeout=2)
        try:
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    # --- memory --------------------------------------------------------------------------------
    def _sample(self) -> None:
        while not self._sampling.wait(0.5):
            self.sample_rss()

    def sample_rss(self) -> None:
        """Record each process's and each child's high-water mark of resident memory."""
        children = _children_by_parent()
        for member in self.members:
            pid = member.process.pid
            family = [(pid, member.role)]
            family += [(child, f"{member.role} child") for child in _descendants(pid, children)]
            for pid, label in family:
                peak = _vm_hwm_kb(pid)
                if peak is not None and peak >= self.peaks.get(pid, ("", 0))[1]:
                    self.peaks[pid] = (label, peak)

    def rss_table(self) -> list[tuple[str, int, float]]:
        """(label, pid, peak MB) of every process seen, in start order."""
        return [(label, pid, kb / 1024) for pid, (label, kb) in self.peaks.items()]

    # --- stopping --------------------------------------------------------------------------------
    def stop(self) -> None:
        """Read the last high-water marks, then SIGTERM (gunicorn and RQ stop gracefully) and,
        after STOP_SECONDS, SIGKILL each process group, noting who had not stopped."""
        if self._sampling.is_set():
            return
        self.sample_rss()
        self._sampling.set()
        for member in self.members:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(member.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for member in self.members:
            try:
                member.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.unstopped.append(member.role)
            kill_group(member.process)


def _children_by_parent() -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])  # after "(comm)": state, ppid
        found.setdefault(parent, []).append(int(entry))
    return found


def _descendants(pid: int, children: dict[int, list[int]]) -> list[int]:
    out, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        out.append(child)
        todo.extend(children.get(child, []))
    return out


def _vm_hwm_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None
