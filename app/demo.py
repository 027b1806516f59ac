"""`triage demo`: a morning in three customer channels, through the real app and real jobs.

No credentials and no services: SQLite in a temporary folder, the jobs in a thread of this
process, and the local Slack emulator (`sandbox/`) as Slack. Events are signed and POSTed to
the real `/slack/events`; the app answers through the real slack_sdk client. The demo checks
every step it narrates and exits non-zero if one did not happen.
"""

from __future__ import annotations

import secrets
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text
from werkzeug.serving import make_server

from app.deps import Deps
from app.ids import ActionId, BlockId
from app.main import create_app
from app.settings import load_settings
from app.transcript import write_transcript
from app.web import create_web
from integrations.accounts_file import AccountsFile
from integrations.store.db import upgrade
from sandbox import world as w
from sandbox.slack_events import (
    deliver,
    message_changed_envelope,
    message_envelope,
    new_event_id,
)
from sandbox.slack_interactivity import block_actions_body, view_submission_body
from workers.inline import InlineQueues

ACCOUNTS = Path(w.__file__).with_name("accounts.yaml")  # Globex, Initech, Umbrella
KNOWLEDGE = Path(w.__file__).with_name("knowledge")  # help articles the drafts may quote


@dataclass
class Demo:
    console: Console
    deps: Deps
    queues: InlineQueues
    url: str
    secret: str
    emu: Any
    failures: list[str] = field(default_factory=list)

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
        body = {
            "type": "event_callback",
            "event_id": new_event_id(),
            "team_id": w.ORG,
            "context_team_id": w.ORG,
            "is_ext_shared_channel": True,
            "authorizations": [{"team_id": w.ORG, "user_id": w.BOT_USER, "is_bot": True}],
            "event": {
                "type": "reaction_added",
                "user": user,
                "reaction": reaction,
                "item": {"type": "message", "channel": channel, "ts": ts},
                "event_ts": f"{time.time():.6f}",
            },
        }
        deliver(f"{self.url}/slack/events", body, self.secret)
        self.queues.wait_idle()

    def click(self, action_id: str, card: dict[str, Any]) -> None:
        body = block_actions_body(
            user_id=w.APPROVER,
            user_team_id=w.ORG,
            team_id=w.ORG,
            channel_id=w.TRIAGE,
            message_ts=card["ts"],
            message=card,
            action_id=action_id,
            response_url=self.emu.response_url(f"demo-{secrets.token_hex(4)}"),
        )
        deliver(f"{self.url}/slack/events", body, self.secret)
        self.queues.wait_idle()

    def cards(self) -> list[dict[str, Any]]:
        return [m for m in self.emu.messages(w.TRIAGE) if m.get("bot_id")]

    def card_for(self, text: str) -> dict[str, Any] | None:
        return next((c for c in self.cards() if text in str(c.get("blocks"))), None)

    def replies(self, channel: str, ts: str) -> list[dict[str, Any]]:
        return [
            m for m in self.emu.messages(channel, thread_ts=ts) if m.get("bot_id") and m["ts"] != ts
        ]

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            self.failures.append(what)
            self.console.print(f"  [red]✗ {what}[/]")

    def show_card(self, card: dict[str, Any] | None) -> None:
        if card is None:
            return
        for block in card["blocks"]:
            text = (block.get("text") or {}).get("text") or " ".join(
                e.get("text", "") for e in block.get("elements", []) if e.get("type") == "mrkdwn"
            )
            if block["type"] == "actions":
                text = "[ " + " ] [ ".join(e["text"]["text"] for e in block["elements"]) + " ]"
            if text:
                self.console.print(Text.assemble(("      │ ", "dim"), text), highlight=False)


def run_demo(console: Console | None = None, transcript: Path | None = None) -> int:
    """Play the story (and write it as an HTML page); 0 when every step happened."""
    console = console or Console()
    emu = w.build_emulator().start()
    workdir = Path(tempfile.mkdtemp(prefix="triage-demo-"))
    database_url = f"sqlite:///{workdir / 'triage.db'}"
    upgrade(database_url)
    secret = secrets.token_hex(16)
    settings = load_settings(
        _env_file=None,
        slack_bot_token=w.TOKEN,
        slack_signing_secret=secret,
        slack_api_url=emu.api_url,
        database_url=database_url,
        triage_channel=w.TRIAGE,
        knowledge_dir=str(KNOWLEDGE),
    )
    deps = Deps.build(settings)
    deps.accounts = AccountsFile(ACCOUNTS)  # the demo's CRM, whatever the environment says
    queues = InlineQueues()
    deps.queues = queues
    queues.bind(deps)
    server = make_server("127.0.0.1", 0, create_web(create_app(deps), deps), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    demo = Demo(console, deps, queues, f"http://127.0.0.1:{server.server_port}", secret, emu)
    try:
        _story(demo)
        if transcript is not None:
            write_transcript(
                emu,
                transcript,
                title="triage demo: a morning in Slack Connect",
                customer_channels=[w.SHARED, w.INITECH, w.UMBRELLA],
                triage_channel=w.TRIAGE,
            )
            console.print(f"\nThe whole conversation, as a page: {transcript.resolve()}")
    finally:
        server.shutdown()
        deps.close()
        emu.stop()
    if demo.failures:
        console.print(f"\n[red bold]Demo failed:[/] {len(demo.failures)} step(s) did not happen.")
        return 1
    console.print(f"\n[green bold]Every step happened.[/] Database: {workdir / 'triage.db'}")
    return 0


def _story(demo: Demo) -> None:
    c = demo.console
    c.rule("A morning in three Slack Connect channels")
    c.print(
        "[dim]Slack is the local emulator; the app and its jobs are the real ones. "
        + (
            "Drafts come from OpenAI (OPENAI_API_KEY is set)"
            if demo.deps.llm
            else "No OPENAI_API_KEY: drafts come from the offline drafter"
        )
        + ", grounded on sandbox/knowledge/; accounts come from sandbox/accounts.yaml, as "
        "they would from Salesforce.[/]\n"
    )

    c.print(
        "[bold]09:02[/] Carol (Globex) in #ext-globex: [italic]SAML login fails for all "
        "our users since 9am, error 500. This is urgent![/]"
    )
    outage = demo.say(
        w.SHARED,
        w.CUSTOMER,
        w.CUSTOMER_TEAM,
        "SAML login fails for all our users since 9am, error 500. This is urgent!",
    )
    card = demo.card_for("SAML login fails")
    demo.check(card is not None, "a card for Globex's outage reached #support-triage")
    demo.check("eyes" in demo.emu.reactions(w.SHARED, outage["ts"]), "👀 on Carol's message")
    demo.check(
        card is not None and "Globex Corporation" in str(card["blocks"]),
        "the card shows Globex's account: tier, owner, open cases, renewal",
    )
    c.print("  → 👀 on Carol's message; a card in #support-triage:")
    demo.show_card(card)

    c.print("\n[bold]09:05[/] Peter (Initech) in #ext-initech, in two quick messages:")
    question = demo.say(
        w.INITECH, w.INITECH_USER, w.INITECH_TEAM, "How do I export last month's invoices as CSV?"
    )
    demo.say(w.INITECH, w.INITECH_USER, w.INITECH_TEAM, "ideally split per cost center")
    initech = demo.card_for("invoices as CSV")
    demo.check(
        initech is not None and "cost center" in str(initech["blocks"]),
        "Peter's two messages became one request with one card",
    )
    c.print("  → one request, one card (messages within GROUPING_MINUTES are grouped):")
    demo.show_card(initech)
    if not demo.deps.llm:
        demo.check(
            initech is not None and "billing.md" in str(initech["blocks"]),
            "the offline draft quotes the knowledge base's invoice article",
        )

    c.print(
        "\n[bold]09:07[/] Alice (Umbrella): [italic]thanks, all good now![/]  "
        "and Ben in #engineering: [italic]deploying 4.2 at noon[/]"
    )
    demo.say(w.UMBRELLA, w.UMBRELLA_USER, w.UMBRELLA_TEAM, "thanks, all good now!")
    demo.say(w.INTERNAL, w.APPROVER_2, w.ORG, "deploying 4.2 at noon")
    demo.check(len(demo.cards()) == 2, "no card for a thank-you or an internal message")
    c.print(f"  → no new card (still {len(demo.cards())} in #support-triage)")

    c.print("\n[bold]09:08[/] Amy approves the Globex draft")
    if card is not None:
        demo.click(ActionId.APPROVE_DRAFT, card)
        demo.click(ActionId.APPROVE_DRAFT, card)  # an impatient double click
    replies = demo.replies(w.SHARED, outage["ts"])
    demo.check(len(replies) == 1, "exactly one reply in Carol's thread despite a double click")
    demo.check("white_check_mark" in demo.emu.reactions(w.SHARED, outage["ts"]), "✅ on Carol's")
    if replies:
        c.print(f"  → in Carol's thread: [green]{replies[0]['text']}[/]", highlight=False)
    demo.show_card(demo.card_for("SAML login fails"))

    c.print("\n[bold]09:10[/] Amy edits the Initech draft before sending")
    if initech is not None:
        demo.click(ActionId.EDIT_DRAFT, initech)
        views = [
            v["view"] for v in demo.emu.views() if v["view"].get("callback_id") == "edit_draft"
        ]
        demo.check(bool(views), "the edit modal opened, prefilled with the draft")
        edited = (
            "Hi Peter! Billing → Invoices → Export, then pick CSV; the cost center "
            "column is included when cost centers are enabled on your account."
        )
        if views:
            body = view_submission_body(
                user_id=w.APPROVER,
                user_team_id=w.ORG,
                team_id=w.ORG,
                view=views[-1],
                values={BlockId.EDIT_TEXT: {BlockId.EDIT_TEXT_INPUT: edited}},
                app_installed_team_id=w.ORG,
            )
            deliver(f"{demo.url}/slack/events", body, demo.secret)
            demo.queues.wait_idle()
        replies = demo.replies(w.INITECH, question["ts"])
        demo.check([r["text"] for r in replies] == [edited], "the edited text was posted")
        if replies:
            c.print(f"  → in Peter's thread: [green]{replies[0]['text']}[/]", highlight=False)

    c.print("\n[bold]09:12[/] Dave (Globex) asks; Ben knows and answers in the thread himself")
    dave = demo.say(
        w.SHARED, w.OUTSIDER, w.CUSTOMER_TEAM, "Is the API rate limit per key or per organisation?"
    )
    demo.say(
        w.SHARED, w.APPROVER_2, w.ORG, "Per key: 100 requests a minute each.", thread_ts=dave["ts"]
    )
    asked = demo.card_for("rate limit per key")
    demo.check(
        asked is not None and "already answered" in str(asked["blocks"]),
        "Dave's card says Ben already answered",
    )
    c.print("  → Dave's card now says Ben answered in the thread: nobody sends a second answer")

    c.print("\n[bold]09:14[/] Alice (Umbrella) asks, then corrects her message")
    alice = demo.say(w.UMBRELLA, w.UMBRELLA_USER, w.UMBRELLA_TEAM, "Can we get an extra sandbox?")
    demo.edit(
        w.UMBRELLA, alice, w.UMBRELLA_TEAM, "Can we get two extra sandboxes for the EU region?"
    )
    sandbox = demo.card_for("extra sandbox")
    demo.check(
        sandbox is not None and "two extra sandboxes" in str(sandbox["blocks"]),
        "the card shows Alice's corrected words",
    )
    c.print("  → the card was redrafted with her corrected words")

    c.print("\n[bold]09:16[/] Carol gives Amy's reply a 👎")
    if replies := demo.replies(w.SHARED, outage["ts"]):
        demo.react(w.SHARED, replies[0]["ts"], w.CUSTOMER, "-1")
    outage_card = demo.card_for("SAML login fails")
    notes = (
        [
            m
            for m in demo.emu.messages(w.TRIAGE, thread_ts=outage_card["ts"])
            if m["ts"] != outage_card["ts"]
        ]
        if outage_card
        else []
    )
    demo.check(len(notes) == 1, "Amy was told about the 👎 in the card's thread")
    if notes:
        c.print(f"  → in the card's thread: [yellow]{notes[0]['text']}[/]", highlight=False)
