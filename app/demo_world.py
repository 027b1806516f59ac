"""The demo's hands: what `triage demo` does in Slack (post, edit, react, click, run a command),
each step narrated and checked, and the two customers only the demo's outage adds to the
sandbox's world. The story that uses them is `app.demo_story`."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.text import Text
from sqlalchemy import func, select

from app.transcript import (
    clock,
    context_text,
    print_hanging,
    slack_names,
    terminal_text,
)
from integrations.deps import Deps
from integrations.store.db import transaction
from integrations.store.models import AuditEntry, Request
from sandbox import world as w
from sandbox.slack_emulator import SlackEmulator
from sandbox.slack_events import (
    deliver,
    message_changed_envelope,
    message_envelope,
    reaction_envelope,
)
from sandbox.slack_interactivity import block_actions_body
from workers.inline import InlineQueues

# Two more customers for the outage (SPEC §6.6), each with its own organisation, person and
# Slack Connect channel; sandbox/accounts.yaml has their accounts. Only the demo adds them:
# the tests' world (sandbox/world.py) keeps its three customers.
HOOLI_TEAM, HOOLI_USER, HOOLI = "T0HOOLI", "U0PRIYA", "C0HOOLI"
AURORA_TEAM, AURORA_USER, AURORA = "T0AURORA", "U0LUCIA", "C0AURORA"
CUSTOMER_CHANNELS = [w.SHARED, w.INITECH, w.UMBRELLA, AURORA, HOOLI]  # the page's order


def add_outage_customers(emu: SlackEmulator) -> None:
    """Hooli and Aurora Logística join the sandbox's world, as its customers are built."""
    for team, name, user, real, email, channel in [
        (HOOLI_TEAM, "Hooli", HOOLI_USER, "Priya (Hooli)", "priya@hooli.test", HOOLI),
        (AURORA_TEAM, "Aurora", AURORA_USER, "Lucía (Aurora)", "lucia@aurora.test", AURORA),
    ]:
        emu.add_team(team, name)
        emu.add_user(user, team_id=team, name=email.split("@")[0], real_name=real, email=email)
        emu.add_channel(
            channel,
            f"ext-{name.lower()}",
            is_ext_shared=True,
            connected_team_ids=[w.ORG, team],
            members=[w.BOT_USER, w.APPROVER, w.APPROVER_2, user],
        )


@dataclass(frozen=True)
class Tracked:
    """What the database says about the request a message opened."""

    id: int
    state: str
    case_id: str | None
    remind_at: datetime | None
    deadline_at: datetime | None
    business_hours: str | None  # the hours its SLA clock counts in


@dataclass
class Demo:
    console: Console
    deps: Deps
    queues: InlineQueues
    url: str
    secret: str
    emu: Any
    failures: list[str] = field(default_factory=list)
    notes: dict[tuple[str, str], str] = field(default_factory=dict)  # the page's explanations

    def say(self, channel: str, user: str, team: str, text: str, **kw: Any) -> dict[str, Any]:
        message = self.emu.post_as_user(channel, user, text, **kw)
        body = message_envelope(
            message,
            channel=channel,
            installed_team_id=w.ORG,
            bot_user_id=w.BOT_USER,
            author_team_id=team,
            is_ext_shared_channel=channel != w.INTERNAL,
        )
        status, _ = deliver(f"{self.url}/slack/events", body, self.secret)
        self.check(status == 200, f"Slack's delivery was acknowledged (HTTP {status})")
        self.queues.wait_idle()
        return message

    def edit(self, channel: str, message: dict[str, Any], team: str, text: str) -> None:
        """The author edits a message: Slack sends `message_changed`."""
        self.emu.edit_message(channel, message["ts"], text)
        context = self.emu.event_context(channel, message["user"])
        body = message_changed_envelope({**message, "text": text}, message, **context)
        deliver(f"{self.url}/slack/events", body, self.secret)
        self.queues.wait_idle()

    def react(self, channel: str, ts: str, user: str, reaction: str) -> None:
        """A reaction, as Slack sends it (no team for the person who reacted)."""
        self.emu.add_reaction(channel, ts, reaction, user)
        body = reaction_envelope(user, reaction, ts=ts, **self.emu.event_context(channel))
        deliver(f"{self.url}/slack/events", body, self.secret)
        self.queues.wait_idle()

    def click(
        self,
        action_id: str,
        card: dict[str, Any],
        channel: str = w.TRIAGE,
        *,
        user: str = w.APPROVER,
        team: str = w.ORG,
    ) -> str:
        """`user` (Amy unless said) clicks a button of the app's message in `channel` (the
        value is the button's); the name of the click's response_url, whose posts are what
        the app told them (`emu.responses`)."""
        name = f"demo-{secrets.token_hex(4)}"
        body = block_actions_body(
            user_id=user,
            user_team_id=team,
            team_id=team,
            channel_id=channel,
            message_ts=card["ts"],
            message=card,
            action_id=action_id,
            response_url=self.emu.response_url(name),
        )
        deliver(f"{self.url}/slack/events", body, self.secret)
        self.queues.wait_idle()
        return name

    def command(self, user: str, channel: str, command: str, text: str) -> str:
        """Someone runs a slash command; what the app answered them (the ack's text, or the
        ephemeral reply its lazy listener POSTs to the response_url), "" when nothing came."""
        body, name = self.emu.slash_command(command, text, user=user, channel=channel)
        status, raw = deliver(f"{self.url}/slack/events", body, self.secret)
        self.check(status == 200, f"Slack's {command} was acknowledged (HTTP {status})")
        ack = json.loads(raw) if raw.strip() else {}
        if ack.get("text"):
            return str(ack["text"])
        posts = wait_for(lambda: self.emu.responses(name))
        self.queues.wait_idle()  # the job the listener queued before it answered
        return str(posts[0].get("text", "")) if posts else ""

    def cards(self) -> list[dict[str, Any]]:
        return self.bot_messages(w.TRIAGE)

    def card_for(self, text: str) -> dict[str, Any] | None:
        return next((c for c in self.cards() if text in str(c.get("blocks"))), None)

    def bot_messages(self, channel: str) -> list[dict[str, Any]]:
        """What the app posted at the top of a channel."""
        return [m for m in self.emu.messages(channel) if m.get("bot_id")]

    def replies(self, channel: str, ts: str) -> list[dict[str, Any]]:
        return [
            m for m in self.emu.messages(channel, thread_ts=ts) if m.get("bot_id") and m["ts"] != ts
        ]

    def request_at(self, channel: str, ts: str) -> Tracked | None:
        """The request a message belongs to, as the database has it."""
        with transaction(self.deps.sessions) as session:
            request = session.scalars(
                select(Request).where(Request.channel_id == channel, Request.ts == ts)
            ).first()
            if request is None:
                return None
            clock = request.sla_clock
            return Tracked(
                request.id,
                request.state,
                request.case_id,
                clock.remind_at if clock else None,
                clock.deadline_at if clock else None,
                clock.business_hours if clock else None,
            )

    def audited(self, action: str, request_id: int, actor: str) -> int:
        """How many audit entries record `action` on a request by `actor`."""
        with transaction(self.deps.sessions) as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(AuditEntry)
                    .where(
                        AuditEntry.action == action,
                        AuditEntry.request_id == request_id,
                        AuditEntry.actor == actor,
                    )
                )
                or 0
            )

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            self.failures.append(what)
            self.console.print(f"  [red]✗ {what}[/]")

    def step(self, markup: str) -> None:
        """A new moment of the story, headed by the real time (UTC), as on the messages."""
        self.console.print()
        first = Text(f"{clock(time.time())} ", "bold")
        print_hanging(self.console, Text.from_markup(markup), first, Text(" " * len(first)))

    def arrow(self, body: str | Text) -> None:
        """What happened, wrapped under itself."""
        text = Text.from_markup(body) if isinstance(body, str) else body
        print_hanging(self.console, text, Text("  → "), Text("    "))

    def explain(self, channel: str, ts: str, text: str) -> None:
        """An explanation for the reader: in the terminal, and as a note on the page beside
        the message it is about."""
        self.notes[(channel, ts)] = text
        print_hanging(self.console, Text(text, "dim"), Text("  ℹ ", "dim"), Text("    "))

    def posted(self, where: str, text: str, style: str) -> None:
        """Narrate what the app posted, as a person reads it in Slack."""
        self.arrow(Text.assemble(f"{where}: ", self.mrkdwn(text, style)))

    def mrkdwn(self, text: str, style: str = "") -> Text:
        """Slack mrkdwn as a person reads it in Slack, for the terminal."""
        return terminal_text(text, slack_names(self.emu), style)

    def show_card(self, card: dict[str, Any] | None) -> None:
        """A card or post, block by block, behind a margin that its wrapped lines keep."""
        if card is None:
            return
        margin = Text("      │ ", "dim")
        for block in card.get("blocks") or [{"type": "section", "text": {"text": card["text"]}}]:
            text = (block.get("text") or {}).get("text") or ""
            if block["type"] == "context":
                text = context_text(block)
            if block["type"] == "actions":
                text = "[ " + " ] [ ".join(e["text"]["text"] for e in block["elements"]) + " ]"
            if text:
                print_hanging(self.console, self.mrkdwn(text), margin)


def wait_for(found: Callable[[], list[Any]], timeout: float = 10.0) -> list[Any]:
    """Poll until `found()` returns something (a listener's own thread is answering)."""
    give_up = time.monotonic() + timeout
    while not (result := found()) and time.monotonic() < give_up:
        time.sleep(0.02)
    return result
