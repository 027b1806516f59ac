"""What a worker process holds: its Deps and its identity as a lease owner.

RQ imports job functions by name, so jobs cannot receive Deps as arguments; the process that
runs them installs its Deps here once at start (`triage worker`, the demo, a test).
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from integrations.deps import Deps

_deps: Deps | None = None
_lock = threading.Lock()
_instance = uuid.uuid4().hex[:8]


def install(deps: Deps) -> None:
    """Make `deps` the ones this process's jobs use."""
    global _deps
    with _lock:
        _deps = deps


def current() -> Deps:
    """This process's Deps, built from the environment on first use if none was installed."""
    global _deps
    with _lock:
        if _deps is None:
            from integrations.deps import Deps
            from integrations.settings import get_settings

            _deps = Deps.build(get_settings())
        return _deps


def worker_id() -> str:
    """A lease owner name unique to this process (host, pid, and a random part for pid reuse)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_instance}"
