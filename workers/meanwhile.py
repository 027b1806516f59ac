"""Work a request's round starts early and a later stage takes: the colleague suggestions,
looked up while the model triages and drafts.

With a model, a round waits on one call of a second or more (`_triage_and_draft`), then
ranks colleagues (expertise, the account team, Slack's `users.info` and presence), then posts
the card. The suggestions read nothing the call writes, so they are looked up in one of this
process's `MEANWHILE_THREADS` while the call is out, and the card follows the model's answer
by the time it takes to store and post it. Only for a message the words-only classifier reads
as needing a reply: a "thanks!" should not spend Slack's per-minute budget on lookups.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

# Threads per process, beside the RQ job threads; more rounds than this wait their turn (the
# stage then waits for the answer it would have computed itself).
MEANWHILE_THREADS = 8

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def submit(work: Callable[[], T]) -> Future[T]:
    """Run `work` on the process's meanwhile threads; its exceptions come with `result()`."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(MEANWHILE_THREADS, thread_name_prefix="triage-meanwhile")
        pool = _pool
    return pool.submit(work)
