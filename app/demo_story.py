"""The story `triage demo` plays, step by step, each step narrated and checked.

Carol's outage, Peter's grouped question, a thank-you and an internal message, an approval
(double-clicked), an edit, a colleague's answer in a thread, a corrected message, a 👎; then a
support lead's `/escalate`, two more customers reporting Carol's failure so that it becomes an
incident with one update for all three (`app.demo_outage`), and a question nobody answers,
whose SLA reminder and breach come due on the real clock while the demo waits (`app.demo`
gives Initech's tier 15 seconds); meanwhile Peter's answered question is asked how it went,
and he clicks 👍 (`app.demo_csat`).
Each step is headed by the real time, the one on the messages; what depends on the day (a
colleague outside working hours, an account's SLA waiting for its business hours) is explained
where it shows, in the terminal and as a note on the page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.markup import escape
from rich.text import Text

from app.demo_auto_send import play_auto_send
from app.demo_csat import play_csat
from app.demo_outage import play_outage
from app.demo_world import Demo
from app.transcript import print_hanging
from integrations.business_hours import BusinessHours
from sandbox import world as w
from sandbox.slack_events import deliver
from sandbox.slack_interactivity import view_submission_body
from workers.ids import ActionId, BlockId
from workers.suggest import local_time

WEBHOOK_QUESTION = (
    "Since last night our webhooks to the ERP get a 401 on every delivery. "
    "Did something change on your side?"
)


def play(demo: Demo) -> None:
    """The whole story, in order."""
    _intro(demo)
    outage, card, question, initech = _first_messages(demo)
    _decisions(demo, card, outage, initech, question)
    _threads(demo, outage)
    webhook = _unanswered(demo)
    _escalation(demo, outage)
    play_outage(demo, outage)  # while Peter's clock runs
    _clock_runs_out(demo, webhook)
    play_csat(demo, question)  # asked while Peter's clock ran out
    play_auto_send(demo, question)  # Amy's answer to Peter, reused for Milton by itself


def _intro(demo: Demo) -> None:
    c = demo.console
    c.rule("Five customers' Slack Connect channels, one support team")
    c.print(
        "[dim]Slack is the local emulator; the app and its jobs are the real ones. "
        + (
            "Drafts come from OpenAI (OPENAI_API_KEY is set)"
            if demo.deps.llm
            else "No OPENAI_API_KEY: drafts come from the offline drafter"
        )
        + ", grounded on sandbox/knowledge/; accounts come from sandbox/accounts.yaml, as "
        "they would from Salesforce. Sam is the support lead (SUPPORT_LEADS); escalations, "
        "SLA breaches and incidents go to #escalations (ESCALATION_CHANNEL, INCIDENT_CHANNEL). "
        "So that a clock runs out while you watch, Initech's premium tier must be answered "
        "within 15 seconds, around the clock (SLA_MINUTES premium=0.25, BUSINESS_HOURS "
        "mon-sun 00:00-24:00), and customers are asked how it went 15 seconds after an "
        "answer instead of an hour (CSAT_AFTER_MINUTES=0.25). Times are the real clock's, in "
        "UTC, as on the messages.[/]"
    )


def _first_messages(
    demo: Demo,
) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any], dict[str, Any] | None]:
    """An outage, a question in two messages, and two messages that need no card."""
    demo.step(
        "Carol (Globex) in #ext-globex: [italic]SAML login fails for all our users since "
        "9am, error 500. This is urgent![/]"
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
    demo.arrow("👀 on Carol's message; a card in #support-triage:")
    demo.show_card(card)
    if card is not None and "outside working hours" in str(card["blocks"]):
        demo.explain(w.TRIAGE, card["ts"], _working_hours_note(demo))

    demo.step("Peter (Initech) in #ext-initech, in two quick messages:")
    question = demo.say(
        w.INITECH, w.INITECH_USER, w.INITECH_TEAM, "How do I export last month's invoices as CSV?"
    )
    demo.say(w.INITECH, w.INITECH_USER, w.INITECH_TEAM, "ideally split per cost center")
    initech = demo.card_for("invoices as CSV")
    demo.check(
        initech is not None and "cost center" in str(initech["blocks"]),
        "Peter's two messages became one request with one card",
    )
    demo.arrow("one request, one card (messages within GROUPING_MINUTES are grouped):")
    demo.show_card(initech)
    if not demo.deps.llm:
        demo.check(
            initech is not None and "billing.md" in str(initech["blocks"]),
            "the offline draft quotes the knowledge base's invoice article",
        )

    demo.step(
        "Alice (Umbrella): [italic]thanks, all good now![/]  and Ben in #engineering: "
        "[italic]deploying 4.2 at noon[/]"
    )
    thanks = demo.say(w.UMBRELLA, w.UMBRELLA_USER, w.UMBRELLA_TEAM, "thanks, all good now!")
    demo.say(w.INTERNAL, w.APPROVER_2, w.ORG, "deploying 4.2 at noon")
    closed = demo.request_at(w.UMBRELLA, thanks["ts"])
    demo.check(
        closed is not None and closed.state == "closed",
        "Alice's thank-you became a request, closed as needing no reply",
    )
    demo.check(len(demo.cards()) == 2, "no card for a thank-you or an internal message")
    demo.arrow(
        f"no new card (still {len(demo.cards())} in #support-triage); Ben's message is "
        "internal, so it is not a request at all"
    )
    if closed is not None:
        demo.explain(
            w.UMBRELLA,
            thanks["ts"],
            f"Request #{closed.id} ({closed.state}): triage found a thank-you that needs no "
            "reply, so it was closed without a card. A 🎫 from one of our people would "
            "reopen it as a request with a card.",
        )
    return outage, card, question, initech


def _working_hours_note(demo: Demo) -> str:
    """Why the card says "outside working hours": the day and hour where Amy and Ben are."""
    hours = demo.deps.settings.suggest_working_hours
    zone = demo.emu._world.users[w.APPROVER].get("tz") or "UTC"
    local, _ = local_time(zone, datetime.now(UTC), hours)
    when = f"{local:%A %H:%M}" if local else "now"
    return (
        f"“outside working hours”: Amy and Ben work in {zone}, where it is {when}; "
        f"SUGGEST_WORKING_HOURS is {hours}, in each person's own time zone. It only lowers "
        "their place among the suggestions; the card and the SLA do not wait for it."
    )


def _decisions(
    demo: Demo,
    card: dict[str, Any] | None,
    outage: dict[str, Any],
    initech: dict[str, Any] | None,
    question: dict[str, Any],
) -> None:
    """Amy approves one draft (with a double click) and edits the other."""
    demo.step("Amy approves the Globex draft")
    if card is not None:
        demo.click(ActionId.APPROVE_DRAFT, card)
        demo.click(ActionId.APPROVE_DRAFT, card)  # an impatient double click
    replies = demo.replies(w.SHARED, outage["ts"])
    demo.check(len(replies) == 1, "exactly one reply in Carol's thread despite a double click")
    demo.check("white_check_mark" in demo.emu.reactions(w.SHARED, outage["ts"]), "✅ on Carol's")
    if replies:
        demo.posted("in Carol's thread", replies[0]["text"], "green")
    demo.arrow("the card, now answered:")
    demo.show_card(demo.card_for("SAML login fails"))

    demo.step("Amy edits the Initech draft before sending")
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
        demo.posted("in Peter's thread", replies[0]["text"], "green")


def _threads(demo: Demo, outage: dict[str, Any]) -> None:
    """A colleague answers himself, a customer corrects herself, a 👎."""
    demo.step("Dave (Globex) asks; Ben knows and answers in the thread himself")
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
    demo.arrow("Dave's card now says Ben answered in the thread: nobody sends a second answer")

    demo.step("Alice (Umbrella) asks, then corrects her message")
    alice = demo.say(w.UMBRELLA, w.UMBRELLA_USER, w.UMBRELLA_TEAM, "Can we get an extra sandbox?")
    demo.edit(
        w.UMBRELLA, alice, w.UMBRELLA_TEAM, "Can we get two extra sandboxes for the EU region?"
    )
    sandbox = demo.card_for("extra sandbox")
    demo.check(
        sandbox is not None and "two extra sandboxes" in str(sandbox["blocks"]),
        "the card shows Alice's corrected words",
    )
    demo.arrow("the card was redrafted with her corrected words")
    request = demo.request_at(w.UMBRELLA, alice["ts"])
    if sandbox is not None and request is not None and request.deadline_at is not None:
        note = _own_hours_note(request.deadline_at, request.business_hours)
        demo.explain(w.TRIAGE, sandbox["ts"], note)

    demo.step("Carol gives Amy's reply a 👎")
    if replies := demo.replies(w.SHARED, outage["ts"]):
        demo.react(w.SHARED, replies[0]["ts"], w.CUSTOMER, "-1")
    outage_card = demo.card_for("SAML login fails")
    notes = demo.replies(w.TRIAGE, outage_card["ts"]) if outage_card else []
    demo.check(len(notes) == 1, "Amy was told about the 👎 in the card's thread")
    if notes:
        demo.posted("in the card's thread", notes[0]["text"], "yellow")


def _own_hours_note(deadline: datetime, business_hours: str | None) -> str:
    """Umbrella's SLA counts in its own business hours: say whether they are open now."""
    due = f"{deadline.astimezone(UTC):%A %H:%M} UTC"
    if not business_hours:
        return f"Its first response is due {due}."
    hours = BusinessHours.parse(business_hours)
    now = datetime.now(UTC)
    opens = hours.add(now, 0)  # the next moment inside the hours; now when they are open
    local = now.astimezone(hours.zone)
    where = f"Umbrella's SLA counts in its own business hours ({hours.text}, sandbox/accounts.yaml)"
    if opens <= now:
        return f"{where}: they are open, so its 4 hours (standard tier) end {due}."
    return (
        f"{where}: it is {local:%A %H:%M} there, outside them, so its 4 hours (standard tier) "
        f"start {opens.astimezone(hours.zone):%A %H:%M} their time and the first response is "
        f"due {due}."
    )


def _unanswered(demo: Demo) -> dict[str, Any]:
    """A question that nobody picks up; its SLA clock starts with its card."""
    demo.step(f"Peter (Initech): [italic]{escape(WEBHOOK_QUESTION)}[/]")
    webhook = demo.say(w.INITECH, w.INITECH_USER, w.INITECH_TEAM, WEBHOOK_QUESTION)
    card = demo.card_for("webhooks to the ERP")
    request = demo.request_at(w.INITECH, webhook["ts"])
    running = request is not None and request.deadline_at is not None
    demo.check(card is not None and running, "Peter's question has a card and a running SLA clock")
    if request is not None and request.deadline_at is not None:
        due = (request.deadline_at - datetime.now(UTC)).total_seconds()
        demo.arrow(
            f"a card in #support-triage, and request #{request.id}'s clock is running: "
            f"first response due in {due:.0f} s (Initech is premium). Amy and Ben are busy."
        )
        if card is not None:
            demo.explain(
                w.TRIAGE,
                card["ts"],
                "Initech's premium tier must be answered within 15 seconds in this demo "
                "(SLA_MINUTES premium=0.25, around the clock), so this clock runs out while "
                "the demo waits; the default is 60 minutes in BUSINESS_HOURS.",
            )
    return webhook


def _escalation(demo: Demo, outage: dict[str, Any]) -> None:
    """The support lead escalates Globex's outage by its link, as P1."""
    c = demo.console
    demo.step(
        "Sam, the support lead, saw Carol's 👎 on an outage that still blocks all of Globex. "
        "He copies the link to her message and types, in #support-triage:"
    )
    text = (
        f"{w.permalink(demo.emu, w.SHARED, outage['ts'])} P1 SSO is down for every Globex "
        "user and the first answer did not help"
    )
    print_hanging(c, Text(f"/escalate {text}", "cyan"), Text("  "), Text("    "))
    answer = demo.command(w.LEAD, w.TRIAGE, "/escalate", text)
    demo.check("Escalated request #" in answer, "Sam was told the request was escalated")
    demo.posted("only Sam sees", answer, "cyan")
    request = demo.request_at(w.SHARED, outage["ts"])
    posts = [m for m in demo.bot_messages(w.ESCALATIONS) if "P1 escalation" in m.get("text", "")]
    demo.check(len(posts) == 1, "the escalation was posted in #escalations")
    demo.arrow("in #escalations:")
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
        demo.arrow(
            f"Case {request.case_id} (High, from CASE_PRIORITY's P1) opened on Globex's "
            "account. The demo's CRM is sandbox/accounts.yaml, which keeps Cases it opens for "
            "this run only; with Salesforce configured it is a Case on the Account, Origin Slack."
        )
    card = demo.card_for("SAML login fails")
    demo.check(
        card is not None and "Escalated *P1*" in str(card["blocks"]),
        "the card shows the escalation",
    )
    demo.arrow(
        "the audit log records it (request.escalated, by Sam), and the card says "
        "[bold]Escalated P1[/]. The outage was answered already: its SLA clock, stopped by "
        "Amy's reply, has nothing to tighten."
    )


def _clock_runs_out(demo: Demo, webhook: dict[str, Any]) -> None:
    """Nobody answered Peter: the 75% reminder, then the breach, on the real clock."""
    request = demo.request_at(w.INITECH, webhook["ts"])
    card = demo.card_for("webhooks to the ERP")
    if request is None or request.remind_at is None or request.deadline_at is None or not card:
        demo.check(False, "Peter's unanswered question has an SLA clock to wait for")
        return
    left = (request.remind_at - datetime.now(UTC)).total_seconds()
    demo.step(
        f"Still nobody has answered Peter. [dim]Waiting {max(left, 0):.0f} s for 75% of his "
        "15 seconds: a timer stands in for RQ's scheduler…[/]"
    )
    demo.queues.wait_scheduled(request.remind_at, timeout=max(left, 0) + 20)
    reminders = [r for r in demo.replies(w.TRIAGE, card["ts"]) if "no answer" in r.get("text", "")]
    demo.check(len(reminders) == 1, "the 75% SLA reminder was posted in the card's thread")
    if reminders:
        demo.posted("in the card's thread", reminders[0]["text"], "yellow")

    left = (request.deadline_at - datetime.now(UTC)).total_seconds()
    demo.console.print(f"  [dim]…and {max(left, 0):.0f} s more to the deadline.[/]")
    demo.queues.wait_scheduled(request.deadline_at, timeout=max(left, 0) + 20)
    breaches = [
        m
        for m in demo.bot_messages(w.ESCALATIONS)
        if "SLA breached" in m.get("text", "") and f"request #{request.id} " in m.get("text", "")
    ]
    demo.check(len(breaches) == 1, "the SLA breach was posted in #escalations")
    if breaches:
        demo.posted("in #escalations", breaches[0]["text"], "red")
