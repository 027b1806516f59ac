"""The incident card, its update modal and the line a joined request's card shows: pure
builders (SPEC §6.6). Impact first: who is affected, how many reports, since when."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from workers.blocks.kit import clip, modal, plain, slack_time, text_input
from workers.ids import ActionId, BlockId, CallbackId

MAX_REPORTS_SHOWN = 20  # Slack allows 50 blocks a message; the rest are counted
UPDATE_MAX = 3000
_LIMIT = 2900


@dataclass(frozen=True)
class ReportLine:
    """One report on the incident card: its account and a link to the customer's message."""

    request_id: int
    account: str
    tier: str | None
    renewal: date | None
    open_cases: int | None
    channel_id: str
    permalink: str | None
    at: datetime


@dataclass(frozen=True)
class IncidentView:
    number: int
    state: str  # open | resolved
    title: str
    signatures: list[str]
    first_report_at: datetime
    deadline: datetime
    tier: str | None
    breached: bool
    reports: list[ReportLine] = field(default_factory=list)
    updates: int = 0
    last_update_at: datetime | None = None
    resolved_by: str | None = None
    parent_case_id: str | None = None

    @property
    def accounts(self) -> int:
        return len({r.account for r in self.reports})


def incident_fallback_text(view: IncidentView) -> str:
    state = "resolved" if view.state == "resolved" else "open"
    return (
        f"Incident #{view.number} ({state}): {view.accounts} accounts, "
        f"{len(view.reports)} reports: {view.title}"
    )


def build_incident_card(view: IncidentView) -> list[Block]:
    resolved = view.state == "resolved"
    icon = "✅" if resolved else "🧯"
    headline = (
        f"{icon} *Incident #{view.number}* · {'resolved' if resolved else 'open'} · "
        f"*{view.accounts} accounts* · {len(view.reports)} reports · first "
        f"{slack_time(view.first_report_at)}\n>{plain(clip(view.title, 300))}"
    )
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=clip(headline, _LIMIT)))]
    for report in view.reports[:MAX_REPORTS_SHOWN]:
        blocks.append(_report_block(report, open_=not resolved))
    if len(view.reports) > MAX_REPORTS_SHOWN:
        more = len(view.reports) - MAX_REPORTS_SHOWN
        blocks.append(_context(f"… and {more} more reports (`/triage status` lists them all)"))
    blocks.append(_context(_status_line(view)))
    if not resolved:
        blocks.append(
            ActionsBlock(
                block_id=BlockId.INCIDENT_ACTIONS,
                elements=[
                    ButtonElement(
                        text="Post update to all",
                        action_id=ActionId.INCIDENT_UPDATE,
                        value=str(view.number),
                        style="primary",
                    ),
                    ButtonElement(
                        text="Resolve",
                        action_id=ActionId.INCIDENT_RESOLVE,
                        value=str(view.number),
                    ),
                ],
            )
        )
    return blocks


def _report_block(report: ReportLine, *, open_: bool) -> SectionBlock:
    facts = [report.tier or "no tier"]
    if report.renewal:
        facts.append(f"renews {report.renewal.isoformat()}")
    if report.open_cases:
        facts.append(f"{report.open_cases} open Case{'s' if report.open_cases != 1 else ''}")
    where = (
        f"<{report.permalink}|report> {slack_time(report.at)}"  # no token inside a label
        if report.permalink
        else f"<#{report.channel_id}> {slack_time(report.at)}"
    )
    text = f"*{plain(clip(report.account, 80))}* · {' · '.join(facts)} · {where}"
    accessory = (
        ButtonElement(
            text="Split out", action_id=ActionId.INCIDENT_SPLIT, value=str(report.request_id)
        )
        if open_
        else None
    )
    return SectionBlock(text=MarkdownTextObject(text=clip(text, _LIMIT)), accessory=accessory)


def _status_line(view: IncidentView) -> str:
    parts: list[str] = []
    if view.signatures:
        parts.append("seen as " + ", ".join(f"`{s.split(':', 1)[1]}`" for s in view.signatures))
    if view.updates:
        last = slack_time(view.last_update_at) if view.last_update_at else ""
        parts.append(f"{view.updates} update{'s' if view.updates != 1 else ''} sent, last {last}")
    elif view.breached:
        parts.append(f"🔴 no update yet: due {slack_time(view.deadline)} ({view.tier or 'SLA'})")
    elif view.state == "open":
        parts.append(f"⏱ first update due {slack_time(view.deadline)} ({view.tier or 'SLA'})")
    if view.parent_case_id:
        parts.append(f"📁 parent Case {view.parent_case_id}")
    if view.resolved_by:
        parts.append(f"resolved by <@{view.resolved_by}>")
    parts.append("the reports' SLA clocks are paused while it is open")
    return " · ".join(parts)


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(text, _LIMIT))])


def build_update_modal(*, incident_id: int, kind: str, text: str, threads: int) -> View:
    """The `incident_update` modal: the drafted update, to edit and send once to every thread
    (`kind` update or resolve; the closing update also resolves the incident)."""
    closing = kind == "resolve"
    note = (
        f"This goes to the {threads} affected customer thread{'s' if threads != 1 else ''}, "
        "once each, and stops their first-response clocks."
        + (" The incident is then resolved." if closing else "")
    )
    return modal(
        CallbackId.INCIDENT_UPDATE,
        title="Resolve incident" if closing else "Incident update",
        submit="Send and resolve" if closing else "Send to all",
        metadata={"incident_id": incident_id, "kind": kind},
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=note)),
            text_input(
                BlockId.INCIDENT_TEXT,
                BlockId.INCIDENT_TEXT_INPUT,
                label="Closing update" if closing else "Status update",
                hint="Customers see exactly this, in their own thread.",
                max_length=UPDATE_MAX,
                initial_value=clip(text, UPDATE_MAX),
            ),
        ],
    )


@dataclass(frozen=True)
class IncidentMark:
    """A joined request's incident, as its card shows it: which one, and the latest update
    when it has not been sent in this request's thread (it joined after it)."""

    number: int
    permalink: str | None
    state: str
    unsent_update_id: int | None = None
    paused: bool = True  # its first-response clock is running (so: paused by the incident)


def incident_mark(mark: IncidentMark, *, request_id: int) -> list[Block]:
    """The lines a joined request's card shows: which incident, and the latest update to
    send in this thread when it joined after it (one click)."""
    name = f"<{mark.permalink}|Incident #{mark.number}>" if mark.permalink else None
    name = name or f"Incident #{mark.number}"
    if mark.state == "resolved":
        text = f"🧯 part of {name} (resolved)"
    elif not mark.paused:  # answered already: no clock to pause
        text = f"🧯 part of {name}"
    else:
        text = f"🧯 part of {name} · this request's SLA clock is paused while the incident is open"
    blocks: list[Block] = [_context(text)]
    if mark.unsent_update_id is not None and mark.state == "open":
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(
                        text="Send the incident's latest update here",
                        action_id=ActionId.INCIDENT_SEND_UPDATE,
                        value=f"{mark.unsent_update_id}:{request_id}",
                    )
                ]
            )
        )
    return blocks


def incident_body(view: IncidentView) -> dict[str, Any]:
    blocks = [b.to_dict() for b in build_incident_card(view)]
    return {"text": incident_fallback_text(view), "blocks": blocks}
