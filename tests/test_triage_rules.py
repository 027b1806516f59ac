"""The offline classifier's documented rules, on messages support teams really get."""

from __future__ import annotations

import pytest

from workers.triage import classify_offline


@pytest.mark.parametrize(
    "text, category, urgency, needs_reply",
    [
        ("thanks!", "no_action", "low", False),
        ("ok 👍", "no_action", "low", False),
        ("thanks, all good now!", "no_action", "low", False),
        (":+1:", "no_action", "low", False),
        ("Thanks! One more thing: how do I add seats?", "account_access", "normal", True),
        (
            "SAML login fails for all our users since 9am, error 500. This is urgent!",
            "incident",
            "urgent",
            True,
        ),
        ("The dashboard is down for everyone", "incident", "urgent", True),
        ("We were charged twice on the last invoice", "billing", "normal", True),
        ("Export to CSV crashes when a row has emoji", "bug", "normal", True),
        ("It would be great to have dark mode", "feature_request", "low", True),
        ("How do I rotate our API key?", "question", "normal", True),
        ("We're blocked: can't deploy because the build fails", "bug", "high", True),
    ],
)
def test_offline_rules(text: str, category: str, urgency: str, needs_reply: bool) -> None:
    result = classify_offline(text)
    assert (result.category, result.urgency, result.needs_reply) == (category, urgency, needs_reply)
    assert result.summary
