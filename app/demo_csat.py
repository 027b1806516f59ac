"""The demo's CSAT (SPEC §6.7): Peter's invoice question, answered by Amy's edited draft, gets
"How did we do?" in its thread CSAT_AFTER_MINUTES later (15 s in the demo, `app.demo`); Peter
clicks 👍, only he sees the thanks, and Amy's App Home counts it in the week's CSAT.

Its moment comes while the demo waits for Peter's other question's SLA breach, so it adds
almost nothing to the demo's time. Dave's thread, answered by Ben, is asked too (a colleague's
answer counts); the outage's three reports are not, while their incident is open.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from app.demo_world import Demo, wait_for
from app.transcript import clock
from integrations.store.csat_models import CsatSurvey, CsatVote
from integrations.store.db import transaction
from integrations.store.models import Request
from sandbox import world as w
from sandbox.slack_events import deliver, envelope
from workers.ids import ActionId, BlockId

CSAT_LABEL = "CSAT (customers asked how we did)"  # its line in App Home's week


def play_csat(demo: Demo, question: dict[str, Any]) -> None:
    """The question in Peter's thread, his 👍, and the week's CSAT in Amy's App Home."""
    request = demo.request_at(w.INITECH, question["ts"])
    answers = demo.replies(w.INITECH, question["ts"])
    due = _due(demo, request.id) if request is not None else None
    if request is None or not answers or due is None:
        demo.check(False, "Peter's answered invoice question has a CSAT question coming")
        return
    minutes = demo.deps.settings.csat_after_minutes
    demo.step(
        f"Amy's answer reached Peter at {clock(float(answers[0]['ts']))}. "
        f"{minutes * 60:g} s later (CSAT_AFTER_MINUTES={minutes:g}; 60 minutes by default) "
        "the app asks him how it went, in his thread:"
    )
    # Due before the SLA breach the demo just waited for: usually there is nothing to wait.
    demo.queues.wait_scheduled(max(due, datetime.now(UTC)), timeout=10)
    asked = [m for m in demo.replies(w.INITECH, question["ts"]) if _is_question(m)]
    demo.check(len(asked) == 1, "one CSAT question in Peter's thread")
    if not asked:
        return
    demo.show_card(asked[0])

    demo.step("Peter clicks [bold]👍[/] on it")
    name = demo.click(
        ActionId.CSAT_GOOD, asked[0], w.INITECH, user=w.INITECH_USER, team=w.INITECH_TEAM
    )
    told = wait_for(lambda: demo.emu.responses(name))
    demo.check(
        len(told) == 1 and told[0].get("response_type") == "ephemeral",
        "Peter was thanked, in a message only he sees",
    )
    if told:
        demo.posted("only Peter sees", str(told[0].get("text", "")), "cyan")
    demo.check(_votes(demo, request.id) == [(w.INITECH_USER, "good")], "Peter's 👍 was stored")

    surveys = _surveys(demo)
    demo.check(
        sorted(c for c, asked in surveys if asked) == sorted([w.INITECH, w.SHARED]),
        "asked in Peter's thread and in Dave's (Ben answered him), nowhere else",
    )
    demo.check(
        sum(not asked for _, asked in surveys) == 3,
        "the outage's three reports wait for their incident to close to be asked",
    )

    demo.step("Amy opens the app's Home tab")
    line = _home_csat(demo)
    demo.check(line.startswith("100% 👍 (1 👍 · 0 👎"), "App Home's week counts Peter's 👍")
    demo.posted(f"App Home, the team's last 7 days, {CSAT_LABEL}", line, "")
    demo.explain(
        w.INITECH,
        asked[0]["ts"],
        f"CSAT: Peter clicked 👍 and only he saw the thanks. Amy's App Home now says {line}: "
        "Dave's thread, answered by Ben, was asked too; the outage's three reports will be "
        "asked after their incident's closing update. The question is asked once per request, "
        "in the customer's language (Lucía's would be in Spanish), and the same number is in "
        "triage report and triage_csat_total.",
    )


def _is_question(message: dict[str, Any]) -> bool:
    return any(b.get("block_id") == BlockId.CSAT_ACTIONS for b in message.get("blocks") or [])


def _due(demo: Demo, request_id: int) -> datetime | None:
    """When the request's question is due, as the database has it."""
    with transaction(demo.deps.sessions) as session:
        due = session.scalar(select(CsatSurvey.due_at).where(CsatSurvey.request_id == request_id))
    return due.replace(tzinfo=due.tzinfo or UTC) if due is not None else None


def _surveys(demo: Demo) -> list[tuple[str, bool]]:
    """Each CSAT question's channel, and whether it was asked (False: it still waits)."""
    with transaction(demo.deps.sessions) as session:
        rows = session.execute(
            select(Request.channel_id, CsatSurvey.asked_at)
            .join(CsatSurvey, CsatSurvey.request_id == Request.id)
            .where(CsatSurvey.cancelled_at.is_(None))
        ).all()
        return [(channel, asked is not None) for channel, asked in rows]


def _votes(demo: Demo, request_id: int) -> list[tuple[str, str]]:
    with transaction(demo.deps.sessions) as session:
        votes = session.scalars(select(CsatVote).where(CsatVote.request_id == request_id)).all()
        return [(v.user_id, v.value.value) for v in votes]


def _home_csat(demo: Demo) -> str:
    """Amy opens App Home (Slack sends `app_home_opened`; the app publishes her view): the
    week's CSAT as it shows there, "" when it does not."""
    event = {"type": "app_home_opened", "user": w.APPROVER, "tab": "home", "event_ts": "1.0"}
    body = envelope(event, channel="D0AMY", installed_team_id=w.ORG, bot_user_id=w.BOT_USER)
    status, _ = deliver(f"{demo.url}/slack/events", body, demo.secret)
    demo.check(status == 200, f"Slack's app_home_opened was acknowledged (HTTP {status})")
    demo.queues.wait_idle()
    homes = [v["view"] for v in demo.emu.views() if v["user_id"] == w.APPROVER]
    texts = (
        [str((b.get("text") or {}).get("text", "")) for b in homes[-1]["blocks"]] if homes else []
    )
    for line in "\n".join(texts).splitlines():
        if f"{CSAT_LABEL}: " in line:
            return line.split(f"{CSAT_LABEL}: ", 1)[1].strip("*")
    return ""
