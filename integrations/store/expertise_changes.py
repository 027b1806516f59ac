"""The feed of changes to answered questions, read by each process's expertise index.

Whatever changes an expertise document or its weighing writes an `expertise_changes` row in
the same transaction, so the row commits with the change: the flush listener (`after_flush`,
registered with the search index's by `search_index.keep_current`) for evidence rows added,
changed or deleted and for drafts whose feedback may have changed; retention's purge
(`search_index.purged`); and the pipeline for a request opened in a thread whose earlier
requests were answered (`note_reopened`). `expertise_index.py` reads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, inspect, select
from sqlalchemy.orm import Session, aliased

from integrations.store.models import Draft, Evidence, Request, utcnow
from integrations.store.search_models import ExpertiseChange

CHANGES_KEPT = timedelta(days=1)  # the sweeper deletes older rows


def note_changed(conn: Connection, evidence_ids: Iterable[int]) -> None:
    """Tell every process's index that these answered questions changed."""
    ids = sorted(set(evidence_ids))
    if ids:
        now = utcnow()
        conn.execute(insert(ExpertiseChange), [{"evidence_id": i, "at": now} for i in ids])


def same_thread_later(asked: Any, later: Any) -> Any:
    """`later` was opened in `asked`'s thread after it: `asked`'s answer was reopened."""
    return and_(
        asked.channel_id == later.channel_id,
        asked.thread_ts == later.thread_ts,
        later.created_at > asked.created_at,
    )


def note_reopened(session: Session, request_id: int) -> None:
    """This request reopens the answers of the earlier requests in its thread (they weigh
    less): tell the indexes."""
    asked, later = aliased(Request), aliased(Request)
    answers = session.scalars(
        select(Evidence.id)
        .join(asked, asked.id == Evidence.request_id)
        .join(later, same_thread_later(asked, later))
        .where(later.id == request_id, Evidence.answered.is_(True))
    ).all()
    note_changed(session.connection(), answers)


def after_flush(session: Session, _context: Any) -> None:
    """Evidence rows added, changed or deleted by this flush, and the evidence of the drafts
    whose details (their feedback among them) changed."""
    evidence = {obj.id for obj in session.new if isinstance(obj, Evidence)}
    evidence |= {obj.id for obj in session.deleted if isinstance(obj, Evidence)}
    drafts = []
    for obj in session.dirty:
        if isinstance(obj, Evidence) and session.is_modified(obj):
            evidence.add(obj.id)
        elif isinstance(obj, Draft) and inspect(obj).attrs["details"].history.has_changes():
            drafts.append(obj.id)
    if drafts:  # a flush changes a few drafts at most
        evidence.update(session.scalars(select(Evidence.id).where(Evidence.draft_id.in_(drafts))))
    note_changed(session.connection(), evidence)


def prune_changes(session: Session) -> int:
    """Delete the rows older than `CHANGES_KEPT` (the sweeper); how many."""
    cutoff = utcnow() - CHANGES_KEPT
    result = session.execute(delete(ExpertiseChange).where(ExpertiseChange.at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
