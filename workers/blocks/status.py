"""`/triage status` (SPEC §6.2) as Block Kit: the open requests a support lead can act on.

A pure builder. Open incidents come first (`workers.blocks.incident_status`). Then each open
request is one line (account, channel, urgency, age, SLA, a link to its card), breached first,
then near breach, then by urgency and age; a report of an open incident says so, its clock
paused. However many are open the answer stays inside Block Kit's limits for a message (50
blocks, 3000 characters a section): the first `MAX_LISTED` requests are shown and the rest
are counted ("…and M more").
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

from workers.blocks.incident_status import OpenIncident, open_incident_blocks
from workers.blocks.kit import age, clip, plain, slack_time

URGENCIES = (("urgent", "🔴"), ("high", "🟠"), ("normal", "🟢"), ("low", "⚪"))
UNTRIAGED = "untriaged"
SLA_ORDER = {"breached": 0, "near": 1}  # the rest: by urgency and age alone
SLA_MARK = {"breached": "🔥 breached", "near": "⏰ near breach"}
# One section each, plus the counts and the "…and M more" line: ≤ 42 blocks, and ≤ 49 with
# the open incidents before them (≤ 7 blocks, `workers.blocks.incident_status.MAX_SHOWN`).
MAX_LISTED = 40
SECTION_LIMIT = 3000


@dataclass(frozen=True)
class OpenRequest:
    """One open request as the status answer shows it (read from the database, no Slack call).

    `sla`: "breached", "near" (past the 75% reminder), "running", "paused" (a report of an
    open incident: its clock waits for the incident's) or "none" (no clock, or stopped).
    `link`: the card's URL (or the customer's message when there is no card yet)."""

    request_id: int
    account: str | None  # None: the channel is not linked to an account (or not known yet)
    channel_id: str
    urgency: str | None
    created_at: datetime
    sla: str
    deadline: datetime | None
    link: str | None
    summary: str = ""
    priority: str | None = None
    incident: int | None = None  # the open incident it is a report of


def status_order(item: OpenRequest) -> tuple[int, int, datetime, int]:
    """Breached, then near breach, then the rest; within each by urgency, oldest first."""
    ranks = {name: n for n, (name, _) in enumerate(URGENCIES)}
    return (
        SLA_ORDER.get(item.sla, 2),
        ranks.get(item.urgency or UNTRIAGED, len(URGENCIES)),
        item.created_at,
        item.request_id,
    )


def status_blocks(
    items: list[OpenRequest], now: datetime, incidents: list[OpenIncident] | None = None
) -> list[Block]:
    """The open incidents, then the requests' counts and one section per request in
    `status_order`, at most `MAX_LISTED`."""
    ordered = sorted(items, key=status_order)
    blocks = open_incident_blocks(incidents or [], now)
    blocks.append(SectionBlock(text=MarkdownTextObject(text=summary_line(ordered))))
    if not ordered:
        return blocks
    blocks += [
        SectionBlock(text=MarkdownTextObject(text=clip(_line(item, now), SECTION_LIMIT)))
        for item in ordered[:MAX_LISTED]
    ]
    if len(ordered) > MAX_LISTED:
        more = len(ordered) - MAX_LISTED
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=f"…and {more} more open request{'s' if more != 1 else ''} "
                        "(the most pressing are listed first)"
                    )
                ]
            )
        )
    return blocks


def summary_line(items: list[OpenRequest]) -> str:
    """`*N open requests*: 🔴 urgent 1 · …`, with how many are breached and near breach."""
    if not items:
        return "✅ No open requests. Nobody is waiting."
    counts = Counter(item.urgency or UNTRIAGED for item in items)
    by_urgency = " · ".join(f"{mark} {name} {counts[name]}" for name, mark in URGENCIES)
    if counts[UNTRIAGED]:
        by_urgency += f" · {UNTRIAGED} {counts[UNTRIAGED]}"
    sla = Counter(item.sla for item in items)
    line = f"*{len(items)} open request{'s' if len(items) != 1 else ''}*: {by_urgency}"
    return line + f"\n🔥 breached {sla['breached']} · ⏰ near breach {sla['near']}"


def _line(item: OpenRequest, now: datetime) -> str:
    label = f"#{item.request_id}"
    link = f"<{item.link}|{label}>" if item.link else label
    account = f"*{plain(item.account)}*" if item.account else "_unlinked channel_"
    marks = dict(URGENCIES)
    urgency = item.urgency or UNTRIAGED
    parts = [
        f"{link} {account} in <#{item.channel_id}>",
        f"{marks.get(urgency, '⚪')} {plain(urgency)}",
        f"open {age(now - item.created_at)}",
    ]
    if item.priority:
        parts.append(plain(item.priority))
    if item.sla in SLA_MARK:
        parts.append(SLA_MARK[item.sla])
    if item.incident is not None:
        paused = ", SLA paused" if item.sla == "paused" else ""
        parts.append(f"🧯 part of Incident #{item.incident}{paused}")
    if item.deadline is not None and item.sla not in ("none", "paused"):
        parts.append(f"due {slack_time(item.deadline)}")
    line = " · ".join(parts)
    summary = plain(clip(item.summary, 120))
    return line + (f"\n{summary}" if summary else "")
