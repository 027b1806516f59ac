"""The history search's index (SPEC §5.4 retrieval, §5.5 and §6.4 expertise), written when
its documents change and read by a query's terms only.

Documents (tables in `search_models.py`):
- `answers`: an approved draft whose reply was posted, with text, and no 👎; its text is the
  customer's messages of the request, its scope the request's `account_key` (the tenant).
- `expertise`: an answered `expertise_evidence` row with a question; its text is the stemmed
  question and answer; one scope ("") for all accounts.

Written: every flush of a session from `integrations.store.db.session_factory` looks at what
it changed (a draft posted, feedback on it, a customer message edited or deleted, a request's
account, evidence learned or purged) and rewrites those documents and their scope's counts in
the same transaction (`keep_current`). Bulk UPDATEs, which bypass the ORM, call `purged`
(retention) or `reindex`. `rebuild` indexes everything again (the migration's backfill),
`refresh` rewrites what a new tokenizer reads differently (migration 0016). An
unchanged text (same digest) is not rewritten, so a 👍 costs one read.

Read: `matches` and `bm25_plus` in `search_rank.py`.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    any_,
    bindparam,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from integrations.store import expertise_changes
from integrations.store.models import Draft, DraftStatus, Evidence, Request, RequestMessage
from integrations.store.search_models import (
    Embedding,
    SearchDocument,
    SearchPosting,
    SearchStats,
)
from integrations.store.search_terms import stemmed, term_key, tokens
from integrations.store.vector_cache import new_stamp

ANSWERS, EXPERTISE = "answers", "expertise"
# Embedded only (integrations/store/embeddings.py): a request's own question, a KB passage
QUESTIONS, KNOWLEDGE = "requests", "knowledge"
CHUNK = 500  # ids per IN list

_ANSWER_FIELDS = ("status", "posted_ts", "posted_text", "details")
_EVIDENCE_FIELDS = ("question", "answer", "answered", "share", "request_id")


def among(bind: Session | Connection, column: Any, ids: list[int]) -> ColumnElement[bool]:
    """`column IN ids`; on PostgreSQL as one array parameter: a list of thousands of
    placeholders costs the client more to build and send than the server to read."""
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    if engine.dialect.name == "postgresql":
        return column == any_(bindparam(None, ids, type_=postgresql.ARRAY(BigInteger)))
    return column.in_(ids)  # type: ignore[no-any-return]


def chunks(ids: Iterable[int], size: int = CHUNK) -> Iterator[list[int]]:
    """`ids` in sorted lists of at most `size`, for IN lists of bounded length."""
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


@dataclass(frozen=True)
class _Document:
    corpus: str
    source_id: int
    scope: str
    request_id: int | None
    tf: Counter[str]
    length: int
    digest: str

    @classmethod
    def of(
        cls, corpus: str, source_id: int, scope: str, request_id: int | None, words: list[str]
    ) -> _Document:
        keys = [term_key(w) for w in words]
        digest = hashlib.sha1(f"{scope}\x1f{request_id}\x1f{' '.join(keys)}".encode())
        length = max(1, len(keys))  # rank-bm25 saw a text without words as one word
        return cls(corpus, source_id, scope, request_id, Counter(keys), length, digest.hexdigest())

    def row(self) -> dict[str, Any]:
        return {
            "corpus": self.corpus,
            "source_id": self.source_id,
            "scope": self.scope,
            "request_id": self.request_id,
            "length": self.length,
            "digest": self.digest,
        }

    def postings(self) -> list[dict[str, Any]]:
        return [
            {
                "corpus": self.corpus,
                "source_id": self.source_id,
                "term": term,
                "scope": self.scope,
                "tf": tf,
                "length": self.length,
            }
            for term, tf in self.tf.items()
        ]


def thumbs_down(details: dict[str, Any] | None) -> int:
    """`DraftDetails.feedback.down` (workers/stage_data.py), read without the model, which
    lives a layer up: any 👎 takes an answer out of the examples."""
    feedback = (details or {}).get("feedback") or {}
    return int(feedback.get("down") or 0)


def _answer_documents(conn: Connection, ids: list[int], lock: bool) -> dict[int, _Document | None]:
    """What the index should hold for these drafts (None: nothing). `lock`: lock the drafts,
    so that two transactions re-indexing one draft take turns."""
    wanted: dict[int, _Document | None] = dict.fromkeys(ids)
    query = (
        select(
            Draft.id,
            Draft.request_id,
            Draft.status,
            Draft.posted_ts,
            Draft.posted_text,
            Draft.details,
            Request.account_key,
        )
        .join(Request, Request.id == Draft.request_id)
        .where(Draft.id.in_(ids))
    )
    rows = conn.execute(query.with_for_update(of=Draft.__table__) if lock else query).all()
    live = [
        row
        for row in rows
        if row.status == DraftStatus.APPROVED
        and row.posted_ts is not None
        and row.posted_text
        and row.account_key
        and not thumbs_down(row.details)
    ]
    questions = customer_words(conn, [row.request_id for row in live])
    for row in live:
        words = tokens(questions.get(row.request_id, ""))
        wanted[row.id] = _Document.of(ANSWERS, row.id, row.account_key, row.request_id, words)
    return wanted


def customer_words(conn: Connection | Session, request_ids: Iterable[int]) -> dict[int, str]:
    """Each request's messages, in order, one per line: the question its answer answered."""
    found: dict[int, list[str]] = {}
    for chunk in chunks(request_ids):
        for request_id, text in conn.execute(
            select(RequestMessage.request_id, RequestMessage.text)
            .where(RequestMessage.request_id.in_(chunk))
            .order_by(RequestMessage.ts)
        ):
            found.setdefault(request_id, []).append(text)
    return {request_id: "\n".join(texts) for request_id, texts in found.items()}


def _evidence_documents(
    conn: Connection, ids: list[int], lock: bool
) -> dict[int, _Document | None]:
    """What the index should hold for these evidence rows (None: nothing), `lock`ed."""
    wanted: dict[int, _Document | None] = dict.fromkeys(ids)
    query = select(
        Evidence.id,
        Evidence.request_id,
        Evidence.question,
        Evidence.answer,
        Evidence.answered,
        Evidence.share,
    ).where(Evidence.id.in_(ids))
    for row in conn.execute(query.with_for_update() if lock else query):
        if row.answered and row.question and row.share > 0:
            text = f"{row.question}\n{row.answer}" if row.answer else row.question
            words = tokens(stemmed(text))
            wanted[row.id] = _Document.of(EXPERTISE, row.id, "", row.request_id, words)
    return wanted


def _apply(conn: Connection, corpus: str, wanted: dict[int, _Document | None], stamp: bool) -> None:
    """Make the index hold `wanted` for these sources, and keep the counts (and, `stamp`,
    the scopes' stamps) in step."""
    current = dict(
        conn.execute(
            select(SearchDocument.source_id, SearchDocument.digest).where(
                SearchDocument.corpus == corpus, SearchDocument.source_id.in_(list(wanted))
            )
        ).all()
    )
    stale = [
        i for i, doc in wanted.items() if i in current and (doc is None or doc.digest != current[i])
    ]
    fresh = [doc for i, doc in wanted.items() if doc is not None and current.get(i) != doc.digest]
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    if stale:  # their vectors were computed from what they no longer say
        forget(conn, corpus, stale)
        conn.execute(
            delete(SearchPosting).where(
                SearchPosting.corpus == corpus, SearchPosting.source_id.in_(stale)
            )
        )
        for scope, length in conn.execute(
            delete(SearchDocument)
            .where(SearchDocument.corpus == corpus, SearchDocument.source_id.in_(stale))
            .returning(SearchDocument.scope, SearchDocument.length)
        ):
            counts[scope][0] -= 1
            counts[scope][1] -= length
    if fresh:
        conn.execute(insert(SearchDocument), [doc.row() for doc in fresh])
        postings = [posting for doc in fresh for posting in doc.postings()]
        if postings:
            conn.execute(insert(SearchPosting), postings)
        for doc in fresh:
            counts[doc.scope][0] += 1
            counts[doc.scope][1] += doc.length
    for scope in sorted(counts):  # always in one order: two writers never wait on each other
        _count(conn, corpus, scope, *counts[scope], stamp=stamp)


def _count(
    conn: Connection, corpus: str, scope: str, documents: int, length: int, *, stamp: bool
) -> None:
    """Add to a scope's counts, creating its row, and, `stamp`, stamp the change (also when
    the counts are as they were: a document rewritten): one upsert, on either database."""
    if not (documents or length or stamp):
        return
    upsert: Any = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stamped = {"stamp": new_stamp()} if stamp else {}
    statement = upsert(SearchStats).values(
        corpus=corpus, scope=scope, documents=documents, length=length, **stamped
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[SearchStats.corpus, SearchStats.scope],
            set_={
                "documents": SearchStats.documents + statement.excluded.documents,
                "length": SearchStats.length + statement.excluded.length,
                **({"stamp": statement.excluded.stamp} if stamp else {}),
            },
        )
    )


def reindex(
    conn: Connection,
    *,
    drafts: Iterable[int] = (),
    evidence: Iterable[int] = (),
    requests: Iterable[int] = (),
    lock: bool = True,
    stamp: bool = True,
) -> None:
    """Bring these sources' documents up to date (`requests`: their approved answers).
    `lock` False only where nobody else can write (the migration's backfill); `stamp` False
    only in the migrations written before `search_stats.stamp` (0019, which stamps all)."""
    draft_ids = set(drafts)
    for chunk in chunks(requests):
        draft_ids.update(
            conn.scalars(
                select(Draft.id).where(
                    Draft.request_id.in_(chunk), Draft.status == DraftStatus.APPROVED
                )
            )
        )
    for chunk in chunks(draft_ids):
        _apply(conn, ANSWERS, _answer_documents(conn, chunk, lock), stamp)
    for chunk in chunks(evidence):
        _apply(conn, EXPERTISE, _evidence_documents(conn, chunk, lock), stamp)


def purged(conn: Connection, table: str, rows: Iterable[tuple[int, int | None]]) -> None:
    """Re-index after a bulk UPDATE of `table` (retention's purge), which no flush sees;
    `rows`: (id, request id) of the rows it may have changed."""
    rows = list(rows)
    if table == "drafts":
        reindex(conn, drafts=[row_id for row_id, _ in rows])
    elif table == "request_messages":
        reindex(conn, requests=[request_id for _, request_id in rows if request_id])
        forget(conn, QUESTIONS, [request_id for _, request_id in rows if request_id])
    elif table == "expertise_evidence":
        reindex(conn, evidence=[row_id for row_id, _ in rows])
        expertise_changes.note_changed(conn, [row_id for row_id, _ in rows])


def forget(conn: Connection, corpus: str, source_ids: Iterable[int]) -> None:
    """Delete the stored vectors of these sources, every model's (their text changed)."""
    for chunk in chunks(source_ids):
        conn.execute(
            delete(Embedding).where(Embedding.corpus == corpus, Embedding.source_id.in_(chunk))
        )


def keep_current(sessions: sessionmaker[Session]) -> None:
    """Re-index what each flush of these sessions changed, in its transaction, and tell
    the processes' expertise indexes (`expertise_changes.py`)."""
    event.listen(sessions, "after_flush", _after_flush)
    event.listen(sessions, "after_flush", expertise_changes.after_flush)


def _after_flush(session: Session, _context: Any) -> None:
    drafts: set[int] = set()
    evidence: set[int] = set()
    requests: set[int] = set()
    created = {obj.id for obj in session.new if isinstance(obj, Request)}
    for obj in session.new:
        if isinstance(obj, Evidence):
            evidence.add(obj.id)
        elif isinstance(obj, Draft) and obj.status == DraftStatus.APPROVED:
            drafts.add(obj.id)
        elif isinstance(obj, RequestMessage) and obj.request_id not in created:
            requests.add(obj.request_id)
    for obj in session.dirty:
        if isinstance(obj, Evidence) and _changed(obj, _EVIDENCE_FIELDS):
            evidence.add(obj.id)
        elif isinstance(obj, Draft) and _changed(obj, _ANSWER_FIELDS) and _approved(obj):
            drafts.add(obj.id)
        elif isinstance(obj, RequestMessage) and _changed(obj, ("text",)):
            requests.add(obj.request_id)
        elif isinstance(obj, Request) and _changed(obj, ("account_key",)):
            requests.add(obj.id)
    for obj in session.deleted:
        if isinstance(obj, Evidence):
            evidence.add(obj.id)
        elif isinstance(obj, Draft):
            drafts.add(obj.id)
        elif isinstance(obj, RequestMessage):
            requests.add(obj.request_id)
    if drafts or evidence or requests:
        reindex(session.connection(), drafts=drafts, evidence=evidence, requests=requests)


def _changed(obj: object, names: tuple[str, ...]) -> bool:
    attrs = inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in names)


def _approved(draft: Draft) -> bool:
    """Approved now, or until this flush (an answer leaving the index)."""
    was = inspect(draft).attrs["status"].history.deleted
    return draft.status == DraftStatus.APPROVED or DraftStatus.APPROVED in was


def rebuild(conn: Connection, batch: int = 2000, *, stamp: bool = True) -> tuple[int, int]:
    """Index every answer and every answered question again, from nothing; returns how
    many documents each corpus holds (the migration's backfill, and a repair)."""
    for model in (SearchPosting, SearchDocument, SearchStats):
        conn.execute(delete(model))
    return refresh(conn, batch, stamp=stamp)


def refresh(conn: Connection, batch: int = 2000, *, stamp: bool = True) -> tuple[int, int]:
    """Index every answer and every answered question again, rewriting only the documents
    whose terms changed (the tokenizer changed: migration 0016), so the others keep their
    digest and their stored vectors; returns how many documents each corpus holds."""
    posted = (Draft.status == DraftStatus.APPROVED, Draft.posted_ts.is_not(None))
    for ids in _batches(conn, Draft.id, batch, *posted):
        reindex(conn, drafts=ids, lock=False, stamp=stamp)
    for ids in _batches(conn, Evidence.id, batch, Evidence.answered.is_(True)):
        reindex(conn, evidence=ids, lock=False, stamp=stamp)
    counts = dict(
        conn.execute(
            select(SearchDocument.corpus, func.count()).group_by(SearchDocument.corpus)
        ).all()
    )
    return int(counts.get(ANSWERS, 0)), int(counts.get(EXPERTISE, 0))


def _batches(conn: Connection, column: Any, size: int, *where: Any) -> Iterator[list[int]]:
    """The ids of the rows matching `where`, `size` at a time, walking the primary key."""
    last = 0
    while ids := list(
        conn.scalars(select(column).where(column > last, *where).order_by(column).limit(size))
    ):
        yield ids
        last = ids[-1]
