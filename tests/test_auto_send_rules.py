"""Auto-send's rules that need no Slack (SPEC §6.7): its settings say what is wrong, doctor
says what may go, and what an offline draft reuses keeps everything after its greeting."""

from __future__ import annotations

import pytest

from app.doctor_apis import check_auto_send
from integrations.settings import TRIAGE_CATEGORIES, ConfigError, load_settings
from workers.draft import _GREETING
from workers.triage_types import Category


def test_auto_send_settings_say_what_is_wrong() -> None:
    settings = load_settings(_env_file=None, auto_send="tier:Standard, channel:C0123")
    assert settings.auto_send == ["tier:standard", "channel:C0123"]
    with pytest.raises(ConfigError, match="tier:<name> or channel:<channel id>"):
        load_settings(_env_file=None, auto_send="standard")
    with pytest.raises(ConfigError, match="'questions' is not a category"):
        load_settings(_env_file=None, auto_send_categories="questions")
    assert set(TRIAGE_CATEGORIES) == {category.value for category in Category}
    # Doctor says what may go: without a key, only reused approved answers.
    offline = check_auto_send(settings)
    assert offline.ok is True and "only offline drafts that reuse" in offline.detail
    ready = check_auto_send(load_settings(_env_file=None, auto_send="tier:x", openai_api_key="k"))
    assert ready.ok is True and "/triage auto-send off" in ready.detail


def test_a_reused_answer_loses_its_greeting_and_nothing_more() -> None:
    """What an offline draft reuses is sent by itself here: its greeting goes (the customer's
    own comes first), the answer stays whole, also when it greets with "!" and has a comma."""
    reused = {
        "Hi Peter! Billing → Invoices → Export, then pick CSV.": "Billing → Invoices → Export,",
        "Hey Carol — restart it, then retry.": "restart it, then retry.",
        "Hello there, go to Settings.": "go to Settings.",
        "Go to Settings, then Exports.": "Go to Settings, then Exports.",
    }
    for answer, kept in reused.items():
        assert _GREETING.sub("", answer, count=1).startswith(kept), answer
