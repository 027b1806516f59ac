"""The folder where every process of one deployment writes its Prometheus samples (SPEC §8).

prometheus_client's multiprocess mode sums every `*.db` file in PROMETHEUS_MULTIPROC_DIR, the
files of processes long gone included: a folder shared with other deployments, or kept from an
earlier run, makes `/metrics` count what they did (issue 16). So the folder is one deployment's
(`Settings.metrics_folder`), and the first process of a run empties it:

- Each file is named after its process's *identity*, `<host>-<pid>`, not the bare pid: in
  docker-compose the web and worker containers share the folder but not their pid numbers (both
  run as pid 1), and two processes writing one file would overwrite each other's samples.
- `triage serve` (its gunicorn master) and `triage worker` *claim* the folder when they start:
  they leave a marker `<identity>.alive`, refreshed every few seconds while they live. Under a
  lock, a process that starts while no other claim is alive empties the folder (a new run);
  otherwise it only forgets the live gauges of processes that are gone
  (`multiprocess.mark_process_dead`), leaving every counter as it is: a restart never wipes a
  live worker's counters, whose open files would keep counting where no one reads.
- A claim is alive when its pid runs (on this host) or, for another host (container), when its
  marker was refreshed less than STALE_SECONDS ago. Limits: a container killed outright leaves
  a marker that looks alive for STALE_SECONDS, so a whole deployment restarted within that time
  keeps counting from the last run's totals (the same values, never counted twice); a dead pid
  reused by an unrelated process on this host looks alive until it ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import multiprocess, values

HEARTBEAT_SECONDS = 5.0
STALE_SECONDS = 30.0
_HOST = re.sub(r"[^A-Za-z0-9.]", "", socket.gethostname()) or "host"
_CLAIMED: dict[str, threading.Event] = {}  # path -> stops this process's heartbeat


def identity(pid: int | None = None) -> str:
    """This process's (or `pid` on this host's) name in the folder's file names."""
    return f"{_HOST}-{os.getpid() if pid is None else pid}"


def use_identity() -> None:
    """Name this process's sample files after `identity()`; call before any metric exists."""
    values.ValueClass = values.MultiProcessValue(process_identifier=identity)


def _folder() -> Path:
    return Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    with (folder / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    with contextlib.suppress(OSError, IndexError):  # a zombie has ended
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _alive(marker: Path) -> bool:
    host, _, pid = marker.stem.rpartition("-")
    if host == _HOST and pid.isdigit():
        return _runs(int(pid))
    with contextlib.suppress(OSError):
        return time.time() - marker.stat().st_mtime < STALE_SECONDS
    return False


def claim() -> None:
    """Join the folder for this run: empty it when no other process of the deployment is
    alive, else forget the gone processes' live gauges; then keep this process's marker
    fresh until `release`."""
    folder = _folder()
    folder.mkdir(parents=True, exist_ok=True)
    mine = folder / f"{identity()}.alive"
    with _locked(folder):
        others = [m for m in folder.glob("*.alive") if m != mine]
        live = {m.stem for m in others if _alive(m)}
        if not live:
            for stale in [*folder.glob("*.db"), *others]:
                stale.unlink(missing_ok=True)
        else:
            for stale in others:
                if stale.stem not in live:
                    multiprocess.mark_process_dead(stale.stem, str(folder))
                    stale.unlink(missing_ok=True)
            for file in folder.glob("gauge_live*.db"):
                who = file.stem.rpartition("_")[2]
                host, _, pid = who.rpartition("-")
                if host == _HOST and pid.isdigit() and not _runs(int(pid)):
                    multiprocess.mark_process_dead(who, str(folder))
        mine.touch()
    stop = _CLAIMED[str(folder)] = threading.Event()
    threading.Thread(target=_heartbeat, args=(mine, stop), daemon=True).start()


def _heartbeat(marker: Path, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_SECONDS):
        with contextlib.suppress(OSError):
            marker.touch()


def release() -> None:
    """This process is ending: its live gauges and its marker go; its counters stay."""
    folder = _folder()
    stop = _CLAIMED.pop(str(folder), None)
    if stop is not None:
        stop.set()
    mark_dead(os.getpid())
    (folder / f"{identity()}.alive").unlink(missing_ok=True)


def mark_dead(pid: int) -> None:
    """A process of this host exited (gunicorn's child_exit): drop its live gauges."""
    multiprocess.mark_process_dead(identity(pid), str(_folder()))
