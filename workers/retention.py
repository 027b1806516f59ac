"""Retention (SPEC §7): customers' words and drafts older than `RETENTION_DAYS` are purged,
the numbers are kept, and the audit log records each purge (and is never edited: it holds no
text, `integrations/store/audit.py`, and PostgreSQL refuses UPDATE and DELETE on it).

Purged: `request_messages.text` ("") and `.files` (NULL); `drafts.text` (`PURGED`) and
`.posted_text` ("" when the sent text was edited, else NULL: the shape `workers.report` reads
as edited or not, so `triage report` and App Home say the same after a purge), and the
translations of the customer's words and the draft in `drafts.details` (`translation`);
`requests.summary` (NULL) and the suggested colleagues' reasons, which name the question's
topic words (`PURGED`); `slack_events.payload` of messages (NULL; reactions hold no text and
feedback needs them); `outbox.body` of sent or failed messages (`{}`); and
`expertise_evidence.question` and `.answer` (""). Ids, times, states, category, urgency,
outcomes, counts, SLA clocks, the account context and internal people's rejection and
escalation reasons stay.

A row goes when its own time is before the cutoff and, if it belongs to a request, the request
is settled: not open, nobody working on it (a lease, an unfinished withdrawal, an escalation
not carried out, an outbox message not yet sent), and its last message and its answer before
the cutoff. An open request keeps its words however old: its card can still send the draft.

Batches of `batch_size` rows, each its own transaction, walk each table's primary key, so a
first run on a big database holds no long transaction. Each batch that purged something adds
a `retention.batch` audit entry in its transaction (the run's id, the table, the rows), so the
log always says what was committed; a run that purged anything ends with one
`retention.purged` entry (its counts and seconds). Entries are only ever added.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import ColumnElement, Text, and_, cast, null, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from integrations.failures import DATABASE_DOWN, unexpected
from integrations.store import search_index
from integrations.store.db import transaction
from integrations.store.models import (
    AuditEntry,
    Draft,
    EventKind,
    Evidence,
    OutboxMessage,
    OutboxState,
    Request,
    RequestMessage,
    RequestState,
    SlackEvent,
    Stage,
)

if TYPE_CHECKING:
    from integrations.deps import Deps

log = structlog.get_logger(__name__)

PURGED = "(purged)"
BATCH_SIZE = 500
INTERVAL = timedelta(hours=1)  # how often the workers run it
LOCK_KEY = "triage:retention:lock"
BUSY_SECONDS = 30  # how often a run reads again which requests have messages not yet sent
ACTION = "retention.purged"  # one per run that purged anything, at its end
BATCH_ACTION = "retention.batch"  # one per committed batch

Where = list[ColumnElement[bool]]
Apply = Callable[[Session, list[int], Where], int]


@dataclass
class PurgeReport:
    """What one run purged (or, with `dry_run`, would purge): rows per table."""

    cutoff: datetime
    retention_days: int
    dry_run: bool = False
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class _Target:
    name: str
    model: Any
    link: Any  # the row's request id column; None for `requests` itself
    own: Where  # the row is old and still holds text
    apply: Apply


def purge_expired_text(
    sessions: sessionmaker[Session],
    *,
    retention_days: int,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
    dry_run: bool = False,
) -> PurgeReport:
    """Purge stored message and draft text older than `retention_days`; see the module doc."""
    if retention_days < 1:
        raise ValueError("retention_days must be at least 1")
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=retention_days)
    run = _Run(sessions, now, PurgeReport(cutoff, retention_days, dry_run), max(1, batch_size))
    started = time.monotonic()
    for target in _targets(cutoff):
        run.table(target)
    seconds = round(time.monotonic() - started, 3)
    run.finish(seconds)
    event = "retention.dry_run" if dry_run else ACTION
    log.info(event, cutoff=cutoff.isoformat(), counts=run.report.counts, seconds=seconds)
    return run.report


class _Run:
    """The batches of one run, and its audit entry."""

    def __init__(
        self, sessions: sessionmaker[Session], now: datetime, report: PurgeReport, batch: int
    ) -> None:
        self.sessions, self.now, self.report, self.batch = sessions, now, report, batch
        self.run_id = uuid.uuid4().hex[:16]
        self.purged = False  # whether a batch purged anything (and was recorded)
        self.settled: Where = []
        self.settled_at = 0.0

    def table(self, target: _Target) -> None:
        """Walk the table's primary key a batch at a time, one transaction each."""
        self.report.counts.setdefault(target.name, 0)
        last, size = 0, self.batch
        while size == self.batch:
            with transaction(self.sessions) as session:
                rows = self._candidates(session, target, last)
                if not rows:
                    return
                last, size = rows[-1][0], len(rows)
                if self.report.dry_run:
                    changed = size
                else:
                    ids = [row[0] for row in rows]
                    changed = target.apply(session, ids, self._recheck(target, rows))
                    search_index.purged(session.connection(), target.name, rows)
                counts = {**self.report.counts}
                counts[target.name] += changed
                if changed and not self.report.dry_run:
                    self._audit(session, BATCH_ACTION, table=target.name, rows=changed)
            self.report.counts = counts  # only once the batch is committed
            self.purged = self.purged or (changed > 0 and not self.report.dry_run)

    def _candidates(self, session: Session, target: _Target, last: int) -> list[Any]:
        """(id, request id) of the next rows to purge."""
        if time.monotonic() - self.settled_at > BUSY_SECONDS:
            self.settled = _settled(session, self.report.cutoff, self.now)
            self.settled_at = time.monotonic()
        model, link = target.model, target.link
        if link is None:  # the requests themselves
            query = select(model.id, model.id).where(*self.settled)
        else:
            query = select(model.id, link).outerjoin(Request, Request.id == link)
            query = query.where(or_(link.is_(None), and_(*self.settled)))
        query = query.where(model.id > last, *target.own).order_by(model.id).limit(self.batch)
        return list(session.execute(query).all())

    def _recheck(self, target: _Target, rows: list[Any]) -> Where:
        """The conditions again, for the UPDATE: a request may have reopened meanwhile."""
        if target.link is None:
            return [*target.own, *self.settled]
        requests = {row[1] for row in rows if row[1] is not None}
        still = select(Request.id).where(Request.id.in_(requests), *self.settled)
        return [*target.own, or_(target.link.is_(None), target.link.in_(still))]

    def finish(self, seconds: float) -> None:
        if self.purged:
            with transaction(self.sessions) as session:
                self._audit(
                    session,
                    ACTION,
                    cutoff=self.report.cutoff.isoformat(),
                    retention_days=self.report.retention_days,
                    counts=self.report.counts,
                    seconds=seconds,
                )

    def _audit(self, session: Session, action: str, **detail: Any) -> None:
        """A new entry: the log is append-only (an UPDATE fails on PostgreSQL)."""
        session.add(
            AuditEntry(actor="system", action=action, detail={"run": self.run_id, **detail})
        )


def _settled(session: Session, cutoff: datetime, now: datetime) -> Where:
    """A request nobody works on any more, quiet since before the cutoff."""
    unsent = session.scalars(  # read once in a while: one scan, not one per request or batch
        select(OutboxMessage.request_id).where(
            OutboxMessage.state.in_((OutboxState.PENDING, OutboxState.SENDING)),
            OutboxMessage.request_id.is_not(None),
        )
    ).all()
    conditions = [
        Request.state != RequestState.OPEN,
        or_(
            Request.state != RequestState.WITHDRAWN,
            and_(Request.stage == Stage.DONE, Request.processed_revision >= Request.revision),
        ),
        or_(Request.lease_owner.is_(None), Request.lease_expires_at < now),
        Request.escalations_done >= Request.escalations,
        Request.created_at < cutoff,
        Request.last_message_at < cutoff,
        or_(Request.answered_at.is_(None), Request.answered_at < cutoff),
    ]
    return [*conditions, Request.id.not_in(set(unsent))] if unsent else conditions


def _present(column: Any) -> ColumnElement[bool]:
    """JSON that is neither SQL NULL nor JSON `null` (what None becomes in a JSON column)."""
    return and_(column.is_not(None), cast(column, Text) != "null")


def _targets(cutoff: datetime) -> list[_Target]:
    def target(name: str, when: Any, holds_text: ColumnElement[bool], apply: Apply) -> _Target:
        model = when.class_
        link = None if model is Request else model.request_id
        return _Target(name, model, link, [when < cutoff, holds_text], apply)

    draft_text = or_(
        and_(Draft.text != PURGED, Draft.text != ""),
        and_(Draft.posted_text.is_not(None), Draft.posted_text != ""),
    )
    request_text = or_(
        Request.summary.is_not(None),
        and_(_present(Request.suggestions), Request.suggestions["purged"].as_string().is_(None)),
    )
    event_text = and_(SlackEvent.kind != EventKind.REACTION, _present(SlackEvent.payload))
    outbox_text = and_(
        OutboxMessage.state.in_((OutboxState.SENT, OutboxState.FAILED)),
        cast(OutboxMessage.body, Text) != "{}",
    )
    return [
        target(
            "request_messages",
            RequestMessage.created_at,
            or_(RequestMessage.text != "", _present(RequestMessage.files)),
            _setting(RequestMessage, text="", files=null()),
        ),
        target("drafts", Draft.created_at, draft_text, _purge_drafts),
        target("requests", Request.created_at, request_text, _purge_requests),
        target(
            "slack_events", SlackEvent.received_at, event_text, _setting(SlackEvent, payload=null())
        ),
        target("outbox", OutboxMessage.created_at, outbox_text, _setting(OutboxMessage, body={})),
        target(
            "expertise_evidence",
            Evidence.answered_at,
            or_(Evidence.question != "", Evidence.answer != ""),
            _setting(Evidence, question="", answer=""),
        ),
    ]


def _setting(model: Any, **values: Any) -> Apply:
    """The same values on every row of the batch that still qualifies."""

    def apply(session: Session, ids: list[int], where: Where) -> int:
        result = session.execute(update(model).where(model.id.in_(ids), *where).values(**values))
        return int(result.rowcount)  # type: ignore[attr-defined]

    return apply


def _purge_requests(session: Session, ids: list[int], where: Where) -> int:
    """The summary and the colleagues' reasons go; who was suggested stays."""
    rows = session.execute(
        update(Request)
        .where(Request.id.in_(ids), *where)
        .values(summary=None)
        .returning(Request.id, Request.suggestions)
    ).all()
    reasons = [
        {
            "id": request_id,
            "suggestions": {
                **suggestions,
                "people": [{**p, "reason": PURGED} for p in suggestions.get("people") or []],
                "purged": True,
            },
        }
        for request_id, suggestions in rows
        if suggestions
    ]
    if reasons:
        session.execute(update(Request), reasons)  # by primary key
    return len(rows)


def _purge_drafts(session: Session, ids: list[int], where: Where) -> int:
    """The texts go, and so do the translations of the customer's words and of the draft kept
    in `details`; whether the sent text was edited stays (`workers.report` compares them)."""
    rows = session.execute(
        select(Draft.id, Draft.text, Draft.posted_text, Draft.details).where(Draft.id.in_(ids))
    ).all()
    for row in rows:  # first: `where` no longer matches a row once its text is purged
        translation = (row.details or {}).get("translation") or {}
        if translation.get("message") or translation.get("reply"):
            kept = {"language": translation.get("language"), "missing": "purged"}
            session.execute(
                update(Draft)
                .where(Draft.id == row.id, *where)
                .values(details={**row.details, "translation": kept})
            )
    edited = {
        r.id for r in rows if r.posted_text is not None and r.posted_text.strip() != r.text.strip()
    }
    changed = 0
    for group, posted in ((edited, ""), (set(ids) - edited, None)):
        if group:
            result = session.execute(
                update(Draft)
                .where(Draft.id.in_(group), *where)
                .values(text=PURGED, posted_text=posted)
            )
            changed += int(result.rowcount)  # type: ignore[attr-defined]
    return changed


class PurgeSchedule:
    """The purge beside a worker: at most once an `INTERVAL` across all workers (a Redis lock
    decides which), in a thread of its own so the lease heartbeat never waits for it."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.thread: threading.Thread | None = None

    def tick(self) -> bool:
        """Start a run if none ran within the interval on any worker; True when started."""
        if self.thread is not None and self.thread.is_alive():
            return False
        seconds = int(INTERVAL.total_seconds())
        if not self.deps.redis.set(LOCK_KEY, str(time.time()), nx=True, ex=seconds):
            return False
        self.thread = threading.Thread(target=self._run, name="triage-retention", daemon=True)
        self.thread.start()
        return True

    def _run(self) -> None:
        try:
            purge_expired_text(self.deps.sessions, retention_days=self.deps.settings.retention_days)
        except DATABASE_DOWN as exc:  # the next interval tries again
            log.warning("retention.failed", error=str(exc))
        except Exception:  # a bug: said with its traceback; the next interval tries again
            unexpected(log, "retention.failed", where="retention")
