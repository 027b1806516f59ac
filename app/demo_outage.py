"""The demo's outage (SPEC §6.6): Globex's SAML failure is not Globex's alone.

After Sam's escalation, two more customers report the same failure in their own channels and
their own words (Lucía in Spanish): with the third account an incident forms, one card in
#escalations (INCIDENT_CHANNEL), and the three customers' cards say they are part of it. Amy
clicks the incident card's "Post update to all", the modal opens with a drafted update, she
sends it, and it is posted once in each of the three threads. It plays while Peter's SLA clock
runs, so it adds little to the demo's time.
"""

from __future__ import annotations

import re
from typing import Any

from rich.markup import escape

from app.demo_world import AURORA, AURORA_TEAM, AURORA_USER, HOOLI, HOOLI_TEAM, HOOLI_USER, Demo
from app.transcript import context_text
from sandbox import world as w
from sandbox.slack_events import deliver
from sandbox.slack_interactivity import view_submission_body
from workers.ids import ActionId, BlockId, CallbackId

LUCIA = (
    "Hola, desde esta mañana nadie de nuestro equipo puede iniciar sesión con SAML: al volver "
    "de Okta sale un error 500. ¿Es un problema vuestro?"
)
PRIYA = (
    "Nobody at Hooli can sign in through Okta since about 9: we get a 500 error right after "
    "the SAML redirect."
)
# A joined card's line: "🧯 part of <link|Incident #1> · …"
MARKED = re.compile(r"part of (?:<[^|>]*\|)?Incident #1\b")


def play_outage(demo: Demo, outage: dict[str, Any]) -> None:
    """Two more reports, the incident, one update to all three threads."""
    reports = {w.SHARED: outage, **_reports(demo)}
    incident = _incident(demo)
    if incident is not None:
        _update(demo, incident, reports)


def _reports(demo: Demo) -> dict[str, dict[str, Any]]:
    demo.step(f"Lucía (Aurora Logística) in #ext-aurora, in Spanish: [italic]{escape(LUCIA)}[/]")
    lucia = demo.say(AURORA, AURORA_USER, AURORA_TEAM, LUCIA)
    demo.check(demo.card_for("iniciar sesión con SAML") is not None, "a card for Lucía's report")
    demo.check(not _incident_cards(demo), "no incident from two accounts")
    demo.arrow(
        "a card in #support-triage, and no incident yet: two accounts report it, and an "
        "incident takes three (INCIDENT_MIN_ACCOUNTS)"
    )
    demo.step(f"Priya (Hooli) in #ext-hooli: [italic]{escape(PRIYA)}[/]")
    priya = demo.say(HOOLI, HOOLI_USER, HOOLI_TEAM, PRIYA)
    return {AURORA: lucia, HOOLI: priya}


def _incident(demo: Demo) -> dict[str, Any] | None:
    """The third account: one incident card, and the three reports' cards marked."""
    cards = _incident_cards(demo)
    demo.check(len(cards) == 1, "one incident card in #escalations")
    marked = [c for c in demo.cards() if MARKED.search(_plain(c))]
    demo.check(len(marked) == 3, "the three reports' cards say they are part of Incident #1")
    demo.arrow("a third account: Incident #1, one card in #escalations (INCIDENT_CHANNEL):")
    demo.show_card(cards[0] if cards else None)
    if cards:
        settings = demo.deps.settings
        demo.explain(
            w.ESCALATIONS,
            cards[0]["ts"],
            "Carol, Lucía (in Spanish) and Priya each wrote it their own way; their reports "
            "match on what they name (SAML single sign-on, logging in, the 500), which reads "
            f"the same in any language. {settings.incident_min_accounts} accounts within "
            f"{settings.incident_window_minutes:g} minutes make an incident "
            "(INCIDENT_MIN_ACCOUNTS, INCIDENT_WINDOW_MINUTES). Its first update is due by the "
            "strictest tier among them (enterprise); the reports' own clocks wait for it.",
        )
    if marked:
        line = next(context_text(b) for b in marked[0]["blocks"] if MARKED.search(str(b)))
        demo.posted("Carol's, Lucía's and Priya's cards each say", line, "")
    return cards[0] if cards else None


def _update(demo: Demo, incident: dict[str, Any], reports: dict[str, dict[str, Any]]) -> None:
    """Post update to all: the modal, drafted; sent once to every affected thread."""
    demo.step("Amy clicks [bold]Post update to all[/] on the incident card")
    before = {channel: len(demo.replies(channel, m["ts"])) for channel, m in reports.items()}
    demo.click(ActionId.INCIDENT_UPDATE, incident, channel=w.ESCALATIONS)
    views = [
        v["view"]
        for v in demo.emu.views()
        if v["view"].get("callback_id") == CallbackId.INCIDENT_UPDATE
    ]
    demo.check(len(views) == 1, "the update modal opened, with a drafted update")
    if not views:
        return
    demo.check(
        "the 3 affected customer threads" in str(views[0]["blocks"][0]),
        "the modal says the update goes to the three affected threads",
    )
    drafted = views[0]["blocks"][1]["element"]["initial_value"]
    demo.posted("the modal, drafted for every customer", drafted, "")
    body = view_submission_body(
        user_id=w.APPROVER,
        user_team_id=w.ORG,
        team_id=w.ORG,
        view=views[0],
        values={BlockId.INCIDENT_TEXT: {BlockId.INCIDENT_TEXT_INPUT: drafted}},
        app_installed_team_id=w.ORG,
    )
    deliver(f"{demo.url}/slack/events", body, demo.secret)
    demo.queues.wait_idle()
    for channel, message in reports.items():
        new = demo.replies(channel, message["ts"])[before[channel] :]
        demo.check(
            [r["text"] for r in new] == [drafted], f"the update posted once in {channel}'s thread"
        )
        request = demo.request_at(channel, message["ts"])
        demo.check(
            request is not None
            and request.state == "answered"
            and demo.audited("incident_update.posted", request.id, w.APPROVER) == 1,
            f"the report in {channel} is answered, and the post audited once, by Amy",
        )
        demo.check(
            "white_check_mark" in demo.emu.reactions(channel, message["ts"]),
            f"✅ on the report in {channel}",
        )
    demo.arrow(
        "Amy sent it as drafted: it is in Carol's, Lucía's and Priya's threads, once each, "
        "as an approved reply (audited, ✅, their first-response clocks stopped)"
    )
    cards = _incident_cards(demo)
    demo.check(
        bool(cards) and "1 update sent" in _plain(cards[0]), "the incident card counts the update"
    )


def _incident_cards(demo: Demo) -> list[dict[str, Any]]:
    return [m for m in demo.bot_messages(w.ESCALATIONS) if "Incident #" in m.get("text", "")]


def _plain(message: dict[str, Any]) -> str:
    return str(message.get("blocks"))
