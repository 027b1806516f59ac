"""The words of `/escalate` (SPEC §6.2), parsed without Slack."""

from __future__ import annotations

import pytest

from app.escalation import EscalateUsageError, parse_escalate

LINK = "https://acme.slack.com/archives/C0GLOBEX/p1700000000123456"


def test_the_forms_of_the_command() -> None:
    assert parse_escalate("  ").form == "modal"
    newest = parse_escalate("p1 the whole EU is down")
    assert (newest.form, newest.priority, newest.reason) == ("newest", "P1", "the whole EU is down")
    direct = parse_escalate(f"<{LINK}> P3 slow answers")
    assert (direct.channel_id, direct.ts, direct.priority) == (
        "C0GLOBEX",
        "1700000000.123456",
        "P3",
    )
    assert parse_escalate(f"{LINK} needs an engineer").priority == "P2"  # the default level
    reply = parse_escalate(f"{LINK}?thread_ts=1699999999.000100&cid=C0GLOBEX P1 reply")
    assert reply.thread_ts == "1699999999.000100"


@pytest.mark.parametrize("text", ["help me", "P1", f"{LINK}", f"{LINK} P2", "P5 reason"])
def test_words_that_do_not_parse_say_why(text: str) -> None:
    with pytest.raises(EscalateUsageError):
        parse_escalate(text)


def test_the_breach_post_ends_its_sentence_once() -> None:
    from datetime import UTC, datetime

    from workers.blocks.escalation import build_sla_breach

    text = build_sla_breach(
        request_id=7,
        channel_id="C1",
        customer_id="U1",
        summary="Webhooks fail on every delivery.",
        permalink=None,
        deadline=datetime(2026, 11, 21, 10, tzinfo=UTC),
        tier="premium",
    )["text"]
    assert text.endswith("Webhooks fail on every delivery.") and ".." not in text
