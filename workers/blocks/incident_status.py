"""Open incidents as `/triage status` and App Home show them, before anything else (SPEC §6.6).

A pure builder. One section per incident: `Incident #N` linked to its card, how many accounts
and reports, how long since the first report, and whether an update went out (or when the
first is due). Those still owing their customers a first update come first. At most
`MAX_SHOWN` are listed and the rest counted, so the answer stays inside Block Kit's limits
however many are open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

from workers.blocks.kit import age, clip, plain, slack_time

MAX_SHOWN = 5  # a title, five sections and the "…and M more" line: 7 blocks at most
SECTION_LIMIT = 3000


@dataclass(frozen=True)
class OpenIncident:
    """One open incident, read from the store (`workers.incident_status`)."""

    number: int
    title: str
    accounts: int
    reports: int  # its requests, split ones not counted
    first_report_at: datetime
    deadline: datetime  # when its first update is due (the strictest affected tier)
    breached: bool
    first_update_at: datetime | None = None
    updates: int = 0
    last_update_at: datetime | None = None
    link: str | None = None  # the incident card's permalink

    def overdue(self, now: datetime) -> bool:
        """No update has gone out and it was due."""
        return self.first_update_at is None and (self.breached or self.deadline <= now)


def incident_order(item: OpenIncident, now: datetime) -> tuple[int, datetime, int]:
    """Overdue first, then those still owing a first update (soonest due first), then the
    rest, oldest first."""
    if item.overdue(now):
        return (0, item.deadline, item.number)
    if item.first_update_at is None:
        return (1, item.deadline, item.number)
    return (2, item.first_report_at, item.number)


def open_incident_blocks(
    items: list[OpenIncident], now: datetime, *, compact: bool = False
) -> list[Block]:
    """The title, one section per incident in `incident_order` (at most `MAX_SHOWN`) and how
    many more; nothing at all when none is open. `compact`: App Home's shorter lines."""
    if not items:
        return []
    ordered = sorted(items, key=lambda item: incident_order(item, now))
    line = incident_home_line if compact else incident_line
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=f"*🧯 Open incidents* ({len(items)})"))
    ]
    blocks += [
        SectionBlock(text=MarkdownTextObject(text=clip(line(item, now), SECTION_LIMIT)))
        for item in ordered[:MAX_SHOWN]
    ]
    if len(ordered) > MAX_SHOWN:
        more = len(ordered) - MAX_SHOWN
        text = (
            f"…and {more} more open incident{'s' if more != 1 else ''}, "
            "each on its card in the incident channel"
        )
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=text)]))
    return blocks


def incident_line(item: OpenIncident, now: datetime) -> str:
    """`/triage status`'s line: who is affected, since when, and where its update stands."""
    if item.first_update_at is not None:
        update = f"✅ first update sent {slack_time(item.first_update_at)}"
        if item.updates > 1:
            update += f", {item.updates} in all"
    elif item.overdue(now):
        update = f"🔥 no update yet: it was due {slack_time(item.deadline)}"
    else:
        update = f"⏱ first update due {slack_time(item.deadline)}"
    parts = [
        f"🧯 {_name(item)}",
        f"*{_count(item.accounts, 'account')}*",
        _count(item.reports, "report"),
        f"first report {age(now - item.first_report_at)} ago",
        update,
    ]
    title = plain(clip(item.title, 150))
    return " · ".join(parts) + (f"\n{title}" if title else "")


def incident_home_line(item: OpenIncident, now: datetime) -> str:
    """App Home's shorter line: the same facts, fewer words."""
    if item.first_update_at is not None:
        update = "✅ update sent"
    elif item.overdue(now):
        update = "🔥 update overdue"
    else:
        update = f"⏱ update due {slack_time(item.deadline)}"
    parts = [
        _name(item),
        _count(item.accounts, "account"),
        _count(item.reports, "report"),
        age(now - item.first_report_at),
        update,
    ]
    title = plain(clip(item.title, 100))
    return " · ".join(parts) + (f"\n{title}" if title else "")


def incidents_text(items: list[OpenIncident], now: datetime) -> str:
    """One line for a notification or a client without blocks; empty when none is open."""
    if not items:
        return ""
    ordered = sorted(items, key=lambda item: incident_order(item, now))
    listed = ", ".join(
        f"#{item.number} ({_count(item.accounts, 'account')}"
        + (", no update yet" if item.first_update_at is None else "")
        + ")"
        for item in ordered[:MAX_SHOWN]
    )
    more = f" and {len(items) - MAX_SHOWN} more" if len(items) > MAX_SHOWN else ""
    return f"*🧯 {_count(len(items), 'open incident')}*: {listed}{more}"


def _name(item: OpenIncident) -> str:
    return f"*<{item.link}|Incident #{item.number}>*" if item.link else f"*Incident #{item.number}*"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"
