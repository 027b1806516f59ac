"""Signed payloads that do not parse get a 200 and a `listener.bad_payload` line, never a 5xx.

Slack signs them, so app/web.py lets them through; before the payload models, Bolt or the
listener picked them apart by hand and answered 500 with a traceback. Each is POSTed, signed,
to the real app (tests/harness.py), by a person of our organisation, so nothing is refused
for who sent it.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from sandbox.slack_interactivity import form_body
from tests.harness import APPROVER, ORG, SHARED, World, wait_for

WHO = {"user": {"id": APPROVER, "team_id": ORG}, "team": {"id": ORG}}
CLICK = {**WHO, "type": "block_actions", "trigger_id": "1.2.3", "response_url": "http://x/y"}
MODAL = {"type": "modal", "private_metadata": '{"draft_id": 1}'}
SUBMIT = {**WHO, "type": "view_submission"}


def action(action_id: str, **fields: Any) -> list[dict[str, Any]]:
    return [{"action_id": action_id, "block_id": "b", "type": "button", **fields}]


CASES: dict[str, dict[str, Any]] = {
    "block_actions without actions": CLICK,
    'block_actions with "actions": "x"': {**CLICK, "actions": "x"},
    "block_actions with no action": {**CLICK, "actions": []},
    "block_actions with a string for an action": {**CLICK, "actions": ["x"]},
    "approve with a value that is no draft id": {
        **CLICK,
        "actions": action("approve_draft", value="nope"),
    },
    "regenerate without a user": {
        **{k: v for k, v in CLICK.items() if k != "user"},
        "actions": action("regenerate_draft", value="1"),
    },
    "edit with a string for the user": {
        **CLICK,
        "user": APPROVER,
        "actions": action("edit_draft", value="1"),
    },
    "pull in without a value": {**CLICK, "actions": action("pull_in")},
    "edit submitted without view.state": {
        **SUBMIT,
        "view": {**MODAL, "callback_id": "edit_draft"},
    },
    "edit submitted without a user": {
        "type": "view_submission",
        "team": {"id": ORG},
        "view": {
            **MODAL,
            "callback_id": "edit_draft",
            "state": {"values": {"draft_text": {"draft_text_input": {"value": "Hi"}}}},
        },
    },
    "reject submitted with metadata that is not JSON": {
        **SUBMIT,
        "view": {**MODAL, "callback_id": "reject_draft", "private_metadata": "zz"},
    },
    "escalation submitted without view.state": {
        **SUBMIT,
        "view": {"type": "modal", "callback_id": "escalate_request"},
    },
    "view submitted without a type": {**SUBMIT, "view": {"callback_id": "edit_draft"}},
    'view_submission with "view": "x"': {**SUBMIT, "view": "x"},
    "app_home_opened without a user": {
        "type": "event_callback",
        "team_id": ORG,
        "event": {"type": "app_home_opened", "tab": "home"},
    },
}


def bad_payloads(caplog: pytest.LogCaptureFixture, event: str) -> list[dict[str, Any]]:
    return [r.msg for r in caplog.records if isinstance(r.msg, dict) and r.msg["event"] == event]


@pytest.mark.parametrize("case", list(CASES))
def test_a_signed_payload_that_does_not_parse_is_acked_and_logged(
    world: World, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    payload = CASES[case]
    body = form_body(payload) if payload["type"] != "event_callback" else payload
    with caplog.at_level(logging.INFO):
        status, answer = world.send(body)
        assert status == 200, (status, answer[:200])
        [logged] = wait_for(lambda: bad_payloads(caplog, "listener.bad_payload"), timeout=5)
    assert logged["error"], logged  # says which field was wrong
    assert bad_payloads(caplog, "listener.failed") == []
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def test_lazy_listeners_log_what_does_not_parse_and_answer_nothing(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """The shortcut and the Escalate button ack at once; their lazy half finds the problem."""
    shortcut = {
        **WHO,
        "type": "message_action",
        "callback_id": "escalate_message",
        "trigger_id": "1.2.3",
        "response_url": world.emu.response_url("shortcut"),
        "channel": {"id": SHARED},
        "message": "x",
    }
    button = {
        **CLICK,
        "actions": action("escalate", value="zz"),
        "response_url": world.emu.response_url("button"),
    }
    with caplog.at_level(logging.INFO):
        for payload in (shortcut, button):
            assert world.send(form_body(payload))[0] == 200
        logged = wait_for(lambda: len(bad_payloads(caplog, "listener.bad_payload")) == 2)
    assert logged
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert world.emu.response_url_posts() == []
