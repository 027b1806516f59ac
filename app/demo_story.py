"""The story `triage demo` plays (SPEC §10), step by step, each step narrated and checked.

Carol's outage, Peter's grouped question, a thank-you and an internal message, an approval
(double-clicked), an edit, a colleague's answer in a thread, a corrected message, a 👎; then a
support lead's `/escalate` and a question nobody answers, whose SLA reminder and breach come
due on the real clock while the demo waits (`app.demo` gives Initech's tier 15 seconds).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.markup import escape

from app.ids import ActionId, BlockId
from sandbox import world as w
from sandbox.slack_events import deliver
from sandbox.slack_interactivity import view_submission_body

if TYPE_CHECKING:
    from app.demo import Demo

WEBHOOK_QUESTION = (
    "Since last night our webhooks to the ERP get a 401 on every delivery. "
    "Did something change on your side?"
)


def play(demo: Demo) -> None:
    """The whole morning, in order."""
    _intro(demo)
    outage, card, question, initech = _first_messages(demo)
    _decisions(demo, card, outage, initech, question)
    _threads(demo, outage)
    webhook = _unanswered(demo)
    _escalation(demo, outage)
    _clock_runs_out(demo, webhook)


def _intro(demo: Demo) -> None:
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
        "they would from Salesforce. Sam is the support lead (SUPPORT_LEADS); escalations and "
        "SLA breaches go to #escalations (ESCALATION_CHANNEL). So that a clock runs out while "
        "you watch, Initech's premium tier must be answered within 15 seconds, around the "
        "clock (SLA_MINUTES premium=0.25, BUSINESS_HOURS mon-sun 00:00-24:00).[/]\n"
    )


def _first_messages(
    demo: Demo,
) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any], dict[str, Any] | None]:
    """09:02-09:07: an outage, a question in two messages, and two that need no card."""
    c = demo.console
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
    return outage, card, question, initech


def _decisions(
    demo: Demo,
    card: dict[str, Any] | None,
    outage: dict[str, Any],
    initech: dict[str, Any] | None,
    question: dict[str, Any],
) -> None:
    """09:08-09:10: Amy approves one draft (with a double click) and edits the other."""
    c = demo.console
    c.print("\n[bold]09:08[/] Amy approves the Globex draft")
    if card is not None:
        demo.click(ActionId.APPROVE_DRAFT, card)
        demo.click(ActionId.APPROVE_DRAFT, card)  # an impatient double click
    replies = demo.replies(w.SHARED, outage["ts"])
    demo.check(len(replies) == 1, "exactly one reply in Carol's thread despite a double click")
    demo.check("white_check_mark" in demo.emu.reactions(w.SHARED, outage["ts"]), "✅ on Carol's")
    if replies:
        _posted(demo, "in Carol's thread", replies[0]["text"], "green")
    demo.show_card(demo.card_for("SAML login fails"))

    c.print("\n[bold]09:10[/] Amy edits the Initech draft before sending")
    if initech is None:
        return
    demo.click(ActionId.EDIT_DRAFT, initech)
    views = [v["view"] for v in demo.emu.views() if v["view"].get("callback_id") == "edit_draft"]
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
        _posted(demo, "in Peter's thread", replies[0]["text"], "green")


def _threads(demo: Demo, outage: dict[str, Any]) -> None:
    """09:12-09:16: a colleague answers himself, a customer corrects herself, a 👎."""
    c = demo.console
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
    notes = demo.replies(w.TRIAGE, outage_card["ts"]) if outage_card else []
    demo.check(len(notes) == 1, "Amy was told about the 👎 in the card's thread")
    if notes:
        _posted(demo, "in the card's thread", notes[0]["text"], "yellow")


def _unanswered(demo: Demo) -> dict[str, Any]:
    """09:17: a question that nobody picks up; its SLA clock starts with its card."""
    c = demo.console
    c.print(f"\n[bold]09:17[/] Peter (Initech): [italic]{escape(WEBHOOK_QUESTION)}[/]")
    webhook = demo.say(w.INITECH, w.INITECH_USER, w.INITECH_TEAM, WEBHOOK_QUESTION)
    card = demo.card_for("webhooks to the ERP")
    request = demo.request_at(w.INITECH, webhook["ts"])
    running = request is not None and request.deadline_at is not None
    demo.check(card is not None and running, "Peter's question has a card and a running SLA clock")
    if request is not None and request.deadline_at is not None:
        due = (request.deadline_at - datetime.now(UTC)).total_seconds()
        c.print(
            f"  → a card in #support-triage, and request #{request.id}'s clock is running: "
            f"first response due in {due:.0f} s (Initech is premium). Amy and Ben are busy."
        )
    return webhook


def _escalation(demo: Demo, outage: dict[str, Any]) -> None:
    """09:18: the support lead escalates Globex's outage by its link, as P1."""
    c = demo.console
    c.print(
        "\n[bold]09:18[/] Sam, the support lead, saw Carol's 👎 on an outage that still blocks "
        "all of Globex. He copies the link to her message and types, in #support-triage:"
    )
    text = (
        f"{w.permalink(demo.emu, w.SHARED, outage['ts'])} P1 SSO is down for every Globex "
        "user and the first answer did not help"
    )
    c.print(f"  [cyan]/escalate {escape(text)}[/]", highlight=False)
    answer = demo.command(w.LEAD, w.TRIAGE, "/escalate", text)
    demo.check("Escalated request #" in answer, "Sam was told the request was escalated")
    _posted(demo, "only Sam sees", answer, "cyan")
    request = demo.request_at(w.SHARED, outage["ts"])
    posts = [m for m in demo.bot_messages(w.ESCALATIONS) if "P1 escalation" in m.get("text", "")]
    demo.check(len(posts) == 1, "the escalation was posted in #escalations")
    c.print("  → in #escalations:")
    demo.show_card(posts[0] if posts else None)
    if request is None:
        demo.check(False, "the escalated request is in the database")
        return
    demo.check(
        demo.audited("request.escalated", request.id, w.LEAD) == 1,
        "the escalation is in the audit log, with Sam as its author",
    )
    demo.check(request.case_id is not None, "a Case was opened on Globex's account")
    if request.case_id:
        c.print(
            f"  → Case {request.case_id} (High, from CASE_PRIORITY's P1) opened on Globex's "
            "account. The demo's CRM is sandbox/accounts.yaml, which keeps Cases it opens for "
            "this run only; with Salesforce configured it is a Case on the Account, Origin Slack."
        )
    card = demo.card_for("SAML login fails")
    demo.check(
        card is not None and "Escalated *P1*" in str(card["blocks"]),
        "the card shows the escalation",
    )
    c.print(
        "  → the audit log records it (request.escalated, by Sam), and the card says "
        "[bold]Escalated P1[/]. The outage was answered already: its SLA clock, stopped by "
        "Amy's reply, has nothing to tighten."
    )


def _clock_runs_out(demo: Demo, webhook: dict[str, Any]) -> None:
    """09:19: nobody answered Peter: the 75% reminder, then the breach, on the real clock."""
    c = demo.console
    request = demo.request_at(w.INITECH, webhook["ts"])
    card = demo.card_for("webhooks to the ERP")
    if request is None or request.remind_at is None or request.deadline_at is None or not card:
        demo.check(False, "Peter's unanswered question has an SLA clock to wait for")
        return
    left = (request.remind_at - datetime.now(UTC)).total_seconds()
    c.print(
        f"\n[bold]09:19[/] Still nobody has answered Peter. [dim]Waiting {max(left, 0):.0f} s "
        "for 75% of his 15 seconds: a timer stands in for RQ's scheduler…[/]"
    )
    demo.queues.wait_scheduled(request.remind_at, timeout=max(left, 0) + 20)
    reminders = [r for r in demo.replies(w.TRIAGE, card["ts"]) if "no answer" in r.get("text", "")]
    demo.check(len(reminders) == 1, "the 75% SLA reminder was posted in the card's thread")
    if reminders:
        _posted(demo, "in the card's thread", reminders[0]["text"], "yellow")

    left = (request.deadline_at - datetime.now(UTC)).total_seconds()
    c.print(f"  [dim]…and {max(left, 0):.0f} s more to the deadline.[/]")
    demo.queues.wait_scheduled(request.deadline_at, timeout=max(left, 0) + 20)
    breaches = [
        m
        for m in demo.bot_messages(w.ESCALATIONS)
        if "SLA breached" in m.get("text", "") and f"request #{request.id} " in m.get("text", "")
    ]
    demo.check(len(breaches) == 1, "the SLA breach was posted in #escalations")
    if breaches:
        _posted(demo, "in #escalations", breaches[0]["text"], "red")


def _posted(demo: Demo, where: str, text: str, style: str) -> None:
    """Narrate what the app posted, as a person reads it in Slack."""
    shown = escape(demo.readable(text))
    demo.console.print(f"  → {where}: [{style}]{shown}[/]", highlight=False)
