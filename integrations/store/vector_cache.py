"""One process's copy of the scopes' stored vectors, read again only when a scope changed.

Each request compares its question with every stored vector of one scope (its account's
approved answers, or every answered question for suggestions: `workers/semantic.py`). Read
from the database, that is the scope's whole matrix on every request: 500 answers of 512
floats, 1 MB, twice a request (once to find what is not embedded yet, once to compare), which
was most of what a request with history cost the database more than one without (bench/
RESULTS.md, "History search").

A scope's row of `search_stats` carries a `stamp`, a random number written again in the same
transaction as every change to the scope's documents or their vectors (`search_index._count`,
`embeddings.save`). A request reads that one row; when its stamp is the one this process read
the scope at, the copy here is what the database holds, else the scope is read again. The stamp
is read before the documents, so a change committed in between makes the copy newer than its
stamp, never older: the next request reads it again. A random stamp rather than a counter,
so that a database made again from nothing (tests, a restore) never matches an old copy by
coincidence. Scopes are kept up to `max_bytes` of vectors, the least recently used going
first; a scope larger than that is read from the database every time, as before.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.store.search_models import SearchStats

# Of vectors, per process: 8,000 of 512 float32s (the bundled encoder's), 2,700 of OpenAI's
# 1,536. A burst's workers peak at 231 MB (bench/RESULTS.md); this keeps them under 250.
MAX_BYTES = 16 << 20
_PER_DOCUMENT = 200  # bytes beside its vector: ids, digest, list slots


@dataclass
class ScopeVectors:
    """One scope's documents: those with a current vector (a row of `matrix` each, the
    request each came from in `request_ids`), and those without (`missing`: source id,
    request id, digest)."""

    ids: list[int] = field(default_factory=list)
    matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    missing: list[tuple[int, int | None, str]] = field(default_factory=list)
    request_ids: list[int | None] = field(default_factory=list)

    def without(self, request_id: int | None, *, missing_only: bool = False) -> ScopeVectors:
        """These documents but those of `request_id`; `missing_only`: no vectors."""
        missing = [m for m in self.missing if request_id is None or m[1] != request_id]
        if missing_only:
            return ScopeVectors(missing=missing)
        if request_id is None or request_id not in self.request_ids:
            return ScopeVectors(self.ids, self.matrix, missing, self.request_ids)
        keep = [n for n, r in enumerate(self.request_ids) if r != request_id]
        return ScopeVectors(
            [self.ids[n] for n in keep],
            self.matrix[keep],
            missing,
            [self.request_ids[n] for n in keep],
        )


class VectorCache:
    """Scopes' vectors (`ScopeVectors`) by corpus, scope and model, each with its stamp."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple[str, str, str], tuple[int, ScopeVectors, int]] = OrderedDict()
        self._bytes = 0
        self.reads = 0  # scopes read from the database (what a test or a benchmark counts)

    def scope(
        self,
        session: Session,
        corpus: str,
        scope: str,
        model: str,
        read: Callable[[], ScopeVectors],
    ) -> ScopeVectors:
        """The scope's documents and vectors as the database holds them now: this process's
        copy when the scope's stamp has not changed since, else `read()` (and kept)."""
        stamp = session.scalar(
            select(SearchStats.stamp).where(
                SearchStats.corpus == corpus, SearchStats.scope == scope
            )
        )
        key = (corpus, scope, model)
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and stamp is not None and kept[0] == stamp:
                self._kept.move_to_end(key)
                return kept[1]
        found = read()
        self.reads += 1
        if stamp is not None:
            self._keep(key, stamp, found)
        return found

    def _keep(self, key: tuple[str, str, str], stamp: int, found: ScopeVectors) -> None:
        size = found.matrix.nbytes + _PER_DOCUMENT * (len(found.ids) + len(found.missing))
        with self._lock:
            old = self._kept.pop(key, None)
            if old is not None:
                self._bytes -= old[2]
            if size > self.max_bytes:
                return
            self._kept[key] = (stamp, found, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, _, freed) = self._kept.popitem(last=False)
                self._bytes -= freed


def new_stamp() -> int:
    """A scope's change stamp (`SearchStats.stamp`): random, so never an old one by chance."""
    return secrets.randbits(62)
