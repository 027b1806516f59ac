"""App Home (SPEC §6.5): the open incidents (SPEC §6.6), what waits for the viewer, what is
near its SLA, and the team's week.

A pure builder; it caps every list so the view stays inside Block Kit's limits (100 blocks,
3000 characters a text) however busy the queue is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from workers.blocks.incident_status import OpenIncident, open_incident_blocks

MAX_ITEMS = 15  # per list; the rest is counted, not shown
TEXT_LIMIT = 3000


@dataclass(frozen=True)
class HomeItem:
    request_id: int
    channel_id: str
    customer_id: str
    summary: str
    urgency: str | None
    permalink: str | None
    deadline: datetime | None = None
    breached: bool = False
    incident: int | None = None  # the open incident it is a report of


@dataclass(frozen=True)
class AccountRisk:
    """An account whose health is not good (workers.health), with its reasons, worst first."""

    name: str  # the account's name, or its channel as a mention
    level: str  # watch | at risk
    score: int
    reasons: list[str]


@dataclass
class HomeData:
    viewer: str
    yours: list[HomeItem] = field(default_factory=list)  # pending, on accounts they own
    others: list[HomeItem] = field(default_factory=list)  # pending, everyone else's
    near_sla: list[HomeItem] = field(default_factory=list)
    at_risk: list[AccountRisk] = field(default_factory=list)  # the 5 least healthy accounts
    week: dict[str, str] = field(default_factory=dict)  # label -> value, already formatted
    incidents: list[OpenIncident] = field(default_factory=list)  # open ones, shown first
    as_of: datetime = field(default_factory=lambda: datetime.now(UTC))


def build_home(data: HomeData) -> View:
    blocks: list[Block] = [HeaderBlock(text="Support triage")]
    if data.incidents:  # ≤ 8 blocks: the most a view shows is 69 of its 100
        blocks += [DividerBlock(), *open_incident_blocks(data.incidents, data.as_of, compact=True)]
    blocks += _list(
        "Waiting for your approval", data.yours, "Nothing waiting on the accounts you own."
    )
    blocks += _list("Also waiting for someone", data.others, "No other drafts are waiting.")
    blocks += _list("Near or past their SLA", data.near_sla, "No request is near its SLA.")
    blocks += _accounts(data.at_risk)
    blocks.append(DividerBlock())
    blocks.append(SectionBlock(text=MarkdownTextObject(text="*The team's last 7 days*")))
    week = "\n".join(f"• {label}: *{value}*" for label, value in data.week.items())
    blocks.append(SectionBlock(text=MarkdownTextObject(text=_clip(week or "No requests yet."))))
    return View(type="home", blocks=blocks[:100])


def _list(title: str, items: list[HomeItem], empty: str) -> list[Block]:
    blocks: list[Block] = [DividerBlock(), SectionBlock(text=MarkdownTextObject(text=f"*{title}*"))]
    if not items:
        return [*blocks, ContextBlock(elements=[MarkdownTextObject(text=empty)])]
    for item in items[:MAX_ITEMS]:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=_clip(_line(item)))))
    if len(items) > MAX_ITEMS:
        more = f"…and {len(items) - MAX_ITEMS} more in the triage channel."
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=more)]))
    return blocks


def _accounts(accounts: list[AccountRisk]) -> list[Block]:
    """≤ 3 blocks: the accounts most at risk, one line each with all their reasons."""
    title = SectionBlock(text=MarkdownTextObject(text="*Accounts most at risk*"))
    if not accounts:
        empty = "Every account with recent requests looks healthy."
        return [DividerBlock(), title, ContextBlock(elements=[MarkdownTextObject(text=empty)])]
    lines = [
        f"🩺 *{a.name}* · {a.level} ({a.score}/100): " + " · ".join(a.reasons) for a in accounts
    ]
    return [
        DividerBlock(),
        title,
        SectionBlock(text=MarkdownTextObject(text=_clip("\n".join(lines)))),
    ]


def _line(item: HomeItem) -> str:
    link = f"<{item.permalink}|#{item.request_id}>" if item.permalink else f"#{item.request_id}"
    urgency = f" · {item.urgency}" if item.urgency else ""
    when = ""
    if item.deadline is not None:
        state = "breached" if item.breached else "due"
        stamp = int(item.deadline.timestamp())  # Slack shows it in the viewer's time zone
        when = f" · {state} <!date^{stamp}^{{time}}|{item.deadline:%H:%M} UTC>"
    if item.incident is not None:
        when += f" · 🧯 Incident #{item.incident}"
    return f"{link} <@{item.customer_id}> in <#{item.channel_id}>{urgency}{when}\n{item.summary}"


def _clip(text: str) -> str:
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"
