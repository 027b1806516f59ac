"""The expertise corpus in this process's memory (SPEC §6.4), kept current by a change feed.

Ranking colleagues compares a request with every answered question of every account. Read
from the database for each request (the postings of its words, then each matching answer's
weighing), that cost grew with the history: ~650 ms a request on two years of it, of which
PostgreSQL ~350 ms (bench/RESULTS.md, "History search"). Each process now loads the corpus
once: every expertise document's length and postings from the search index
(`search_index.py` keeps writing them in the transactions that change them), and every
answered question's weighing (its person, share, 👍/👎 with its draft's, reopened, age).
A ranking then reads arrays: `bm25` scores what holds the request's words.

Staying current: whatever changes a document or its weighing writes an `expertise_changes`
row in the same transaction (`expertise_changes.py`). Before each ranking the
index reads the rows written since its previous read, less `LAG`, skips those it applied, and
reads those documents again. `LAG` covers a transaction that commits late after writing its
row, and a writer whose clock is behind. A process that has not read for `CHANGES_KEPT - LAG`
(the rows it would need may be gone) or for `RELOAD_SECONDS` loads the corpus again while its
other threads go on with the one they have.
"""

from __future__ import annotations

import math
import threading
import time
from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session, aliased

from integrations.store.expertise_changes import CHANGES_KEPT, same_thread_later
from integrations.store.models import Draft, Evidence, Request, utcnow
from integrations.store.search_index import EXPERTISE, among, chunks
from integrations.store.search_models import ExpertiseChange, SearchDocument, SearchPosting
from integrations.store.search_rank import K1, B
from integrations.store.search_terms import term_key

LAG = timedelta(minutes=5)
RELOAD_SECONDS = 6 * 3600.0  # and a process loads everything again this often regardless
STREAM = 20_000  # rows fetched at a time on a full load
COMPACT_AFTER = 1000  # dead slots (documents changed since) before the corpus is rewritten
_COLUMNS = {  # per slot: one version of one document
    "ids": np.int64,  # the evidence row
    "user": np.int32,  # index into `users`
    "channel": np.int32,  # index into `channels` (the shared channel it was answered in)
    "lengths": np.int32,
    "share": np.float64,
    "up": np.int32,  # the row's own 👍 and its draft's
    "down": np.int32,
    "reopened": np.bool_,
    "answered_at": np.float64,  # POSIX seconds
    "alive": np.bool_,  # false once the document changed or left
}


class Corpus:
    """The answered questions: a slot per document version, postings per term."""

    def __init__(self) -> None:
        self.size = 0  # slots used
        self.documents = 0  # live documents: BM25's N
        self.length = 0  # their total length
        self.dead = 0
        self.users: list[str] = []
        self._user_index: dict[str, int] = {}
        self.channels: list[str] = []
        self._channel_index: dict[str, int] = {}
        self._slot: dict[int, int] = {}
        self._by_id: tuple[np.ndarray, np.ndarray] | None = None  # ids sorted, their slots
        self._postings: dict[str, tuple[array[int], array[int]]] = {}
        for name, dtype in _COLUMNS.items():
            setattr(self, name, np.zeros(0, dtype=dtype))
        self.ids: np.ndarray
        self.user: np.ndarray
        self.channel: np.ndarray
        self.lengths: np.ndarray
        self.share: np.ndarray
        self.up: np.ndarray
        self.down: np.ndarray
        self.reopened: np.ndarray
        self.answered_at: np.ndarray
        self.alive: np.ndarray

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(slots, term frequencies) of the live documents holding `term` (a term key)."""
        found = self._postings.get(term)
        if found is None:
            return np.zeros(0, np.int32), np.zeros(0, np.int32)
        slots = np.frombuffer(found[0], dtype=np.int32).copy()  # copies: appends may follow
        tfs = np.frombuffer(found[1], dtype=np.int32).copy()
        live = self.alive[slots]
        return slots[live], tfs[live]

    def channel_index(self, channel_id: str) -> int | None:
        """`channel_id`'s number in `channel`, None when nothing was answered there."""
        return self._channel_index.get(channel_id)

    def slot_of(self, evidence_id: int) -> int | None:
        return self._slot.get(evidence_id)

    def remove(self, evidence_id: int) -> None:
        slot = self._slot.pop(evidence_id, None)
        if slot is not None:
            self._by_id = None
            self.alive[slot] = False
            self.documents -= 1
            self.length -= int(self.lengths[slot])
            self.dead += 1

    def add(self, row: Any) -> None:
        """A document and its weighing (a row of `_weighing`); its postings follow (`post`)."""
        self.remove(row.id)
        slot = self._grow()
        user = self._user_index.setdefault(row.user_id, len(self.users))
        if user == len(self.users):
            self.users.append(row.user_id)
        channel = self._channel_index.setdefault(row.channel_id or "", len(self.channels))
        if channel == len(self.channels):
            self.channels.append(row.channel_id or "")
        self.channel[slot] = channel
        self.ids[slot], self.user[slot], self.lengths[slot] = row.id, user, row.length
        self.share[slot], self.up[slot], self.down[slot] = row.share, row.up, row.down
        self.reopened[slot], self.alive[slot] = bool(row.reopened), True
        self.answered_at[slot] = row.answered_at.timestamp()
        self._slot[row.id] = slot
        self._by_id = None
        self.documents += 1
        self.length += int(row.length)

    def post(self, term: str, evidence_ids: np.ndarray, tfs: np.ndarray) -> None:
        """A term's postings: the documents holding it (evidence ids) and how often."""
        slots = self._slots_of(evidence_ids)
        known = slots >= 0  # not an answered question, or gone since the documents were read
        if not known.any():
            return
        found = self._postings.get(term)
        if found is None:
            found = self._postings[term] = (array("i"), array("i"))
        found[0].frombytes(slots[known].astype(np.int32).tobytes())
        found[1].frombytes(tfs[known].astype(np.int32).tobytes())

    def _slots_of(self, evidence_ids: np.ndarray) -> np.ndarray:
        """The live slot of each evidence id, -1 for none (no Python object per id)."""
        if self._by_id is None:
            live = np.flatnonzero(self.alive[: self.size])
            order = np.argsort(self.ids[live])
            self._by_id = (self.ids[live][order], live[order])
        ids, slots = self._by_id
        if not len(ids):
            return np.full(len(evidence_ids), -1)
        at = np.minimum(np.searchsorted(ids, evidence_ids), len(ids) - 1)
        return np.where(ids[at] == evidence_ids, slots[at], -1)

    def _grow(self) -> int:
        if self.size == len(self.ids):
            capacity = max(1024, 2 * self.size)
            for name in _COLUMNS:
                column = getattr(self, name)
                grown = np.zeros(capacity, dtype=column.dtype)
                grown[: self.size] = column[: self.size]
                setattr(self, name, grown)
        self.size += 1
        return self.size - 1

    def compacted(self) -> Corpus:
        """The same documents without the dead slots."""
        fresh = Corpus()
        keep = np.flatnonzero(self.alive[: self.size])
        renumber = np.full(self.size, -1, dtype=np.int32)
        renumber[keep] = np.arange(len(keep), dtype=np.int32)
        fresh.size = fresh.documents = len(keep)
        fresh.length = self.length
        fresh.users, fresh._user_index = list(self.users), dict(self._user_index)
        fresh.channels, fresh._channel_index = list(self.channels), dict(self._channel_index)
        for name in _COLUMNS:
            setattr(fresh, name, getattr(self, name)[keep].copy())
        fresh._slot = {int(i): n for n, i in enumerate(fresh.ids)}
        for term, (slots, tfs) in self._postings.items():
            at = np.frombuffer(slots, dtype=np.int32)
            live = self.alive[at]
            if live.any():
                kept = (array("i"), array("i"))
                kept[0].frombytes(renumber[at[live]].tobytes())
                kept[1].frombytes(np.frombuffer(tfs, dtype=np.int32)[live].tobytes())
                fresh._postings[term] = kept
            del at
        return fresh


@dataclass
class Found:
    """What BM25+ made of a request's words, over the documents holding any of them."""

    documents: int = 0  # N
    slots: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # sorted
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))  # 0: too few words held
    matched: np.ndarray = field(default_factory=lambda: np.zeros(0, np.bool_))
    # term key → whether each slot of the corpus (all of them, not only `slots`) holds it
    holds: dict[str, np.ndarray] = field(default_factory=dict)
    df: dict[str, int] = field(default_factory=dict)


def bm25(corpus: Corpus, words: Sequence[str], shared: int) -> Found:
    """BM25+ without its constant (`search_rank.bm25_plus(..., constant=False)`) over the
    corpus in memory: the same idf, lengths and parameters; `matched` are the documents
    holding at least `shared` of the query's distinct words (all of them when it has fewer).

    Scores are summed in arrays over every slot of the corpus, not over the documents found:
    on two years of history a common word is held by most of them, and finding each posting's
    place among them (a sort, a search per term) cost more than the sums."""
    query = Counter(term_key(w) for w in words)
    n = corpus.documents
    postings = {term: corpus.postings(term) for term in query}
    postings = {term: found for term, found in postings.items() if len(found[0])}
    if n <= 0 or not postings:
        return Found(documents=max(n, 0))
    scores, held = np.zeros(corpus.size), np.zeros(corpus.size, dtype=np.int32)
    found = Found(documents=n)
    average = corpus.length / n
    for term, (at, tf) in postings.items():  # a document holds a term once: `at` is unique
        idf = math.log((n + 1) / len(at))
        norm = K1 * (1 - B + B * corpus.lengths[at] / average)
        scores[at] += query[term] * idf * (tf * (K1 + 1)) / (norm + tf)
        held[at] += 1
        found.holds[term] = np.zeros(corpus.size, dtype=np.bool_)
        found.holds[term][at] = True
        found.df[term] = len(at)
    found.slots = np.flatnonzero(held)
    found.matched = held[found.slots] >= min(shared, len(query))
    found.scores = np.where(found.matched, scores[found.slots], 0.0)
    return found


class ExpertiseIndex:
    """This process's expertise corpus: loaded at the first use, current at every use."""

    def __init__(
        self, *, reload_seconds: float = RELOAD_SECONDS, compact_after: int = COMPACT_AFTER
    ) -> None:
        self.reload_seconds = reload_seconds
        self.compact_after = compact_after
        self._corpus: Corpus | None = None
        self._lock = threading.Lock()  # reading, and applying changes
        self._loading = threading.Lock()  # one full load at a time
        self._polled = utcnow()
        self._applied: set[int] = set()
        self._loaded_at = 0.0

    @contextmanager
    def reading(self, session: Session, *, catch_up: bool = True) -> Iterator[Corpus]:
        """The corpus with every change committed until now, for this block (other threads
        of the process wait: a ranking takes milliseconds). `catch_up=False`: as it is, for a
        second look in the same request, which the first brought up to date a moment ago."""
        if self._corpus is None or (catch_up and self._due()):
            self.load(session)
        with self._lock:
            assert self._corpus is not None
            if catch_up:
                self._catch_up(session, self._corpus)
            yield self._corpus

    def load(self, session: Session) -> None:
        """Load the whole corpus (a worker's warm-up, the first use, then every
        `reload_seconds`); while one thread loads, the others read the corpus they have."""
        if not self._loading.acquire(blocking=self._corpus is None):
            return
        try:
            if not self._due():  # loaded while this thread waited
                return
            started = utcnow()
            corpus = Corpus()
            for row in session.execute(_weighing(), execution_options={"yield_per": STREAM}):
                corpus.add(row)
            for term, ids, tfs in _postings(session):
                corpus.post(term, ids, tfs)
            with self._lock:
                self._corpus, self._polled, self._applied = corpus, started, set()
                self._loaded_at = time.monotonic()
        finally:
            self._loading.release()

    def _due(self) -> bool:
        return (
            self._corpus is None
            or time.monotonic() - self._loaded_at > self.reload_seconds
            or utcnow() - self._polled > CHANGES_KEPT - LAG
        )

    def _catch_up(self, session: Session, corpus: Corpus) -> None:
        started = utcnow()
        rows = session.execute(
            select(ExpertiseChange.id, ExpertiseChange.evidence_id).where(
                ExpertiseChange.at > self._polled - LAG
            )
        ).all()
        changed = {evidence for change, evidence in rows if change not in self._applied}
        for chunk in chunks(changed):
            for evidence_id in chunk:
                corpus.remove(evidence_id)
            for row in session.execute(_weighing(among(session, SearchDocument.source_id, chunk))):
                corpus.add(row)
            for term, ids, tfs in _postings(
                session, among(session, SearchPosting.source_id, chunk)
            ):
                corpus.post(term, ids, tfs)
        self._applied = {change for change, _ in rows}
        self._polled = started
        if corpus.dead > max(self.compact_after, corpus.size // 4):
            self._corpus = corpus.compacted()


def _weighing(*where: Any) -> Any:
    """Each answered question's document length and weighing: its feedback (the row's own
    and its draft's counts, read in place) and whether its thread was reopened."""
    feedback = Draft.details["feedback"]
    return (
        select(
            Evidence.id,
            SearchDocument.length,
            Evidence.user_id,
            Evidence.channel_id,
            Evidence.share,
            (Evidence.up + func.coalesce(feedback["up"].as_integer(), 0)).label("up"),
            (Evidence.down + func.coalesce(feedback["down"].as_integer(), 0)).label("down"),
            or_(Evidence.reopened, _reopened(Evidence.request_id)).label("reopened"),
            Evidence.answered_at,
        )
        .join(Evidence, Evidence.id == SearchDocument.source_id)
        .outerjoin(Draft, Draft.id == Evidence.draft_id)
        .where(SearchDocument.corpus == EXPERTISE, Evidence.answered.is_(True), *where)
    )


def _postings(session: Session, *where: Any) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """(term, evidence ids, term frequencies) of the expertise corpus, a row per term, the
    lists as text the database joined ("3,7,9") and numpy reads: 1.5 million postings of
    50,000 questions in ~1.5 s (a row at a time: ~8 s), without a Python object per posting,
    whose memory the process would keep."""
    postgres = session.get_bind().dialect.name == "postgresql"
    # Both lists of a term are built from its rows fed in one order (one pass of the group).
    rows = session.execute(
        select(
            SearchPosting.term,
            _joined(SearchPosting.source_id, postgres),
            _joined(SearchPosting.tf, postgres),
        )
        .where(SearchPosting.corpus == EXPERTISE, *where)
        .group_by(SearchPosting.term),
        execution_options={"yield_per": 1000},
    )
    for term, ids, tfs in rows:
        yield term, _numbers(ids), _numbers(tfs)


def _joined(column: Any, postgres: bool) -> Any:
    return func.string_agg(cast(column, String), ",") if postgres else func.group_concat(column)


def _numbers(joined: Any) -> np.ndarray:
    return np.fromstring(str(joined or ""), dtype=np.int64, sep=",")


def _reopened(request_id: Any) -> Any:
    """Whether the customer came back in the request's thread after the answer: a later
    request opened in that thread. A scalar subquery with LIMIT 1, not EXISTS: PostgreSQL
    may turn an EXISTS into one hash of every thread of every request, which is slower than
    a look-up per answer."""
    asked, later = aliased(Request), aliased(Request)
    first = (
        select(later.id)
        .join(asked, same_thread_later(asked, later))
        .where(asked.id == request_id)
        .limit(1)
    )
    return first.scalar_subquery().is_not(None)
