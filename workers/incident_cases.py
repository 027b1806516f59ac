"""An incident's Salesforce Cases (SPEC §6.6): one parent Case, each account's Case under it.

`link_cases` runs in the incident job (`workers.incident_jobs`) every time the incident
changes, and again from the sweeper while `Incident.cases_done` is false. Through the CRM's
Case operations (Salesforce, or the accounts file) it brings the CRM up to the incident:

- the parent Case, once: Subject `[Incident #N] <title>`, Origin Slack, on no account (an
  incident spans accounts). Its id is stored on the incident at once: a retry never opens a
  second.
- each affected account's Case under it (ParentId), once per account and incident: an
  escalated report's own Case (`requests.case_id`) is updated; else the Case another report
  of the account already has in this incident is shared; else one is opened, ParentId set,
  Subject `[Incident #N] <this account's own report>` (never another customer's words: a
  customer may see their Cases in a portal). Each report records its Case
  (`incident_reports.case_id`) at once, and a linked report is never touched again.

Reports from channels with no account are skipped (logged). `cases_done` is true once every
report with an account is linked, or refused for good by the CRM (a deleted Case, a value it
will not take: logged, not retried); it stays false while the CRM is down, and the sweeper
(`recover_incidents`) queues the incident again later. Without a CRM there is nothing to do.

One job at a time per incident (a Redis lock: reports joining together queue jobs that run at
once); a second job waits for the first, then finds nothing left to do. Without Redis they
are not serialised: two jobs at once could each open a parent Case, and the later one is then
logged (`incident.parent_case_duplicate`) and left unused. As with an escalation's Case, a job
killed between the CRM's answer and the store's write leaves a Case the store does not know.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import structlog
from redis.exceptions import LockError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from integrations.deps import Deps
from integrations.failures import REDIS_DOWN
from integrations.salesforce import CrmUnavailable, NewCase
from integrations.store.db import transaction
from integrations.store.incident_models import Incident, IncidentReport
from integrations.store.models import Request
from workers.context import change_case, open_case
from workers.stage_data import request_context

log = structlog.get_logger(__name__)

LOCK_SECONDS = 120  # the incident job's timeout: a killed job's lock expires with it
WAIT_SECONDS = 30  # for another job's turn; past that RQ retries this one
PRIORITY = "P1"  # an outage reported by several accounts; CASE_PRIORITY maps it to a value


class CasesBusy(Exception):
    """Another job is linking this incident's Cases and did not finish in time; RQ retries."""


@dataclass(frozen=True)
class _Report:
    id: int
    request_id: int
    active: bool  # not split out
    account_id: str | None
    contact_id: str | None
    case_id: str | None  # its account's Case, linked
    own_case_id: str | None  # the request's own Case (it was escalated)
    summary: str
    permalink: str | None


@dataclass(frozen=True)
class _Incident:
    id: int
    title: str
    parent_case_id: str | None
    permalink: str | None
    reports: list[_Report]


def link_cases(deps: Deps, incident_id: int) -> bool:
    """Bring the incident's Cases up to date (see the module's docstring); True when this
    opened the parent Case, which the incident card shows."""
    if deps.accounts is None:
        _done(deps, incident_id, True)
        log.info("incident.cases_no_crm", incident_id=incident_id)
        return False
    with _lock(deps, incident_id):
        return _link(deps, incident_id)


def _link(deps: Deps, incident_id: int) -> bool:
    with transaction(deps.sessions) as session:
        incident = _read(session, incident_id)
    for report in incident.reports:
        if report.active and report.account_id is None:
            log.info(
                "incident.case_skipped",
                incident_id=incident_id,
                request_id=report.request_id,
                reason="the channel is not linked to an account",
            )
    todo = [r for r in incident.reports if r.active and r.account_id and not r.case_id]
    parent = incident.parent_case_id
    opened = False
    try:
        if parent is None:
            parent = _open_parent(deps, incident)
            opened = True
        shared = {r.account_id: r.case_id for r in incident.reports if r.account_id and r.case_id}
        for report in sorted(todo, key=lambda r: r.own_case_id is None):  # escalated first
            case_id = _account_case(deps, incident, report, parent, shared)
            if case_id is None:
                continue  # refused for good, logged
            shared.setdefault(str(report.account_id), case_id)
            with transaction(deps.sessions) as session:  # at once: a retry must not redo it
                session.execute(
                    update(IncidentReport)
                    .where(IncidentReport.id == report.id)
                    .values(case_id=case_id)
                )
    except CrmUnavailable as exc:
        if exc.permanent and parent is None:  # the parent Case itself: nothing can go under it
            log.warning("incident.parent_case_refused", incident_id=incident_id, reason=exc.reason)
            _done(deps, incident_id, True)
            return False
        log.warning("incident.cases_unavailable", incident_id=incident_id, reason=exc.reason)
        _done(deps, incident_id, False)  # the sweeper tries again
        return opened
    _done(deps, incident_id, True)
    if todo or opened:
        log.info("incident.cases_linked", incident_id=incident_id, parent_case_id=parent)
    return opened


def _open_parent(deps: Deps, incident: _Incident) -> str:
    case_id = open_case(
        deps,
        NewCase(
            account_id=None,
            subject=f"[Incident #{incident.id}] {incident.title}",
            description=(
                f"Incident #{incident.id}: one problem reported from Slack by several "
                f"accounts; their Cases are under this one.\n{incident.permalink or 'no link'}"
            ),
            priority=deps.settings.case_priority.get(PRIORITY, "High"),
        ),
    )
    with transaction(deps.sessions) as session:  # at once: a retry must not open a second
        won = session.execute(
            update(Incident)
            .where(Incident.id == incident.id, Incident.parent_case_id.is_(None))
            .values(parent_case_id=case_id)
        ).rowcount  # type: ignore[attr-defined]
        stored = session.get_one(Incident, incident.id).parent_case_id
    if not won:  # another job, unlocked (no Redis), opened one first
        log.warning(
            "incident.parent_case_duplicate",
            incident_id=incident.id,
            case_id=case_id,
            parent_case_id=stored,
        )
    else:
        log.info("incident.parent_case_opened", incident_id=incident.id, case_id=case_id)
    assert stored is not None
    return stored


def _account_case(
    deps: Deps, incident: _Incident, report: _Report, parent: str, shared: dict[str, str]
) -> str | None:
    """The report's account's Case, under `parent`; None when the CRM refused it for good."""
    account_id = report.account_id
    assert account_id is not None
    about = {"incident_id": incident.id, "request_id": report.request_id}
    if report.own_case_id:
        try:
            change_case(
                deps,
                account_id=account_id,
                case_id=report.own_case_id,
                fields={"ParentId": parent},
            )
        except CrmUnavailable as exc:
            if not exc.permanent:
                raise
            # Its Case is gone, or not ours to change: the account gets one as if unescalated.
            log.warning(
                "incident.case_refused", case_id=report.own_case_id, reason=exc.reason, **about
            )
        else:
            log.info("incident.case_linked", case_id=report.own_case_id, **about)
            return report.own_case_id
    if account_id in shared:
        return shared[account_id]
    try:
        case_id = open_case(
            deps,
            NewCase(
                account_id=account_id,
                subject=f"[Incident #{incident.id}] {report.summary}",
                description=(
                    f"Part of Incident #{incident.id} (several accounts): "
                    f"{incident.permalink or 'no link'}\n"
                    f"This account's report #{report.request_id}: {report.permalink or 'no link'}"
                ),
                priority=deps.settings.case_priority.get(PRIORITY, "High"),
                contact_id=report.contact_id,
                parent_id=parent,
            ),
        )
    except CrmUnavailable as exc:
        if not exc.permanent:
            raise
        log.warning("incident.case_refused", reason=exc.reason, **about)
        return None
    log.info("incident.case_opened", case_id=case_id, **about)
    return case_id


def _read(session: Session, incident_id: int) -> _Incident:
    incident = session.get_one(Incident, incident_id)
    rows = session.execute(
        select(IncidentReport, Request)
        .join(Request, Request.id == IncidentReport.request_id)
        .where(IncidentReport.incident_id == incident_id)
        .order_by(IncidentReport.id)
    ).all()
    reports = []
    for report, request in rows:
        context = request_context(request)
        account = context.account if context is not None and context.status == "ok" else None
        lines = (request.summary or request.text or "").strip().splitlines()
        reports.append(
            _Report(
                id=report.id,
                request_id=request.id,
                active=report.split_at is None,
                account_id=account.id if account is not None and account.id else None,
                contact_id=account.contact.id if account is not None and account.contact else None,
                case_id=report.case_id,
                own_case_id=request.case_id,
                summary=lines[0][:200] if lines else "Customer report",
                permalink=request.permalink,
            )
        )
    return _Incident(
        id=incident.id,
        title=incident.title,
        parent_case_id=incident.parent_case_id,
        permalink=incident.card_permalink,
        reports=reports,
    )


def _done(deps: Deps, incident_id: int, done: bool) -> None:
    with transaction(deps.sessions) as session:
        session.execute(
            update(Incident)
            .where(Incident.id == incident_id, Incident.cases_done != done)
            .values(cases_done=done)
        )


@contextlib.contextmanager
def _lock(deps: Deps, incident_id: int) -> Iterator[None]:
    """This incident's Cases, one job at a time; without Redis, unlocked (see above)."""
    lock = None
    try:
        lock = deps.redis.lock(
            f"triage:incident-cases:{incident_id}",
            timeout=LOCK_SECONDS,
            blocking_timeout=WAIT_SECONDS,
        )
        acquired = lock.acquire()
    except REDIS_DOWN as exc:
        log.warning("incident.cases_unlocked", incident_id=incident_id, error=str(exc))
        lock, acquired = None, True
    if not acquired:
        raise CasesBusy(f"incident {incident_id}'s Cases are being linked by another job")
    try:
        yield
    finally:
        if lock is not None:
            with contextlib.suppress(*REDIS_DOWN, LockError):
                lock.release()
