"""The payload models read Slack's own sample payloads (tests/fixtures/slack_samples), and
refuse what Slack would never send, without raising."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from app.listeners.payloads import (
    ROUTING,
    AppHomeOpened,
    BlockAction,
    DraftClick,
    EditedReply,
    EscalationForm,
    MessageShortcut,
    PullInClick,
    Rejection,
    RequestClick,
    SlashCommand,
    parse,
)
from workers.ids import BlockId

SAMPLES = Path(__file__).resolve().parent / "fixtures" / "slack_samples"


def sample(name: str) -> dict[str, Any]:
    data = json.loads((SAMPLES / name).read_text())
    body = data.get("payload") or data.get("parsed") or data
    assert isinstance(body, dict)
    return body


def with_value(body: dict[str, Any], value: str, block_id: str | None = None) -> dict[str, Any]:
    """The sample click, on a button whose value (and block id) are ours."""
    changed = copy.deepcopy(body)
    changed["actions"][0]["value"] = value
    if block_id is not None:
        changed["actions"][0]["block_id"] = block_id
    return changed


def submitted(body: dict[str, Any], metadata: str, values: dict[str, Any]) -> dict[str, Any]:
    """The sample submission, of a modal of ours: its metadata and its inputs."""
    changed = copy.deepcopy(body)
    changed["view"]["private_metadata"] = metadata
    changed["view"]["state"]["values"] = values
    return changed


def text_input(block: BlockId, action: BlockId, value: str | None) -> dict[str, Any]:
    return {block: {action: {"type": "plain_text_input", "value": value}}}


def select(block: BlockId, action: BlockId, value: str) -> dict[str, Any]:
    option = {"text": {"type": "plain_text", "text": value}, "value": value}
    return {block: {action: {"type": "static_select", "selected_option": option}}}


def test_slash_command() -> None:
    command = SlashCommand.model_validate(sample("slash_command.json"))
    assert (command.user_id, command.team_id, command.enterprise_id) == ("W111", "T111", "E111")
    assert (command.channel_id, command.text, command.trigger_id) == ("C111", "Hi", "111.111.xxx")
    assert command.response_url == "https://hooks.slack.com/commands/T111/111/xxxxx"
    assert command.actor.team_id == "T111" and command.actor.enterprise_id == "E111"
    without_text = {k: v for k, v in sample("slash_command.json").items() if k != "text"}
    assert SlashCommand.model_validate(without_text).text == ""
    assert parse(SlashCommand, {"command": "/triage", "text": "help"}) is None


def test_block_action() -> None:
    click = BlockAction.model_validate(sample("block_actions.json"))
    assert (click.user_id, click.action_id, click.block_id) == ("U111", "button", "8KR")
    assert click.trigger_id == "4916855695380.xxx.yyy"
    assert click.response_url == "http://localhost:8888/webhook"
    # No `user.team_id` in this sample: the team is the payload's.
    assert click.actor.team_id == "T0G9PQBBK" and click.actor.enterprise_id is None

    grid = BlockAction.model_validate(sample("block_actions_ephemeral_enterprise.json"))
    assert grid.actor.user_id == "W111" and grid.actor.team_id == "T111"


def test_a_draft_click_needs_a_draft_id() -> None:
    body = sample("block_actions.json")
    assert parse(DraftClick, body) is None  # "clicked" is not a draft's id
    assert DraftClick.model_validate(with_value(body, "42")).draft_id == 42
    assert RequestClick.model_validate(with_value(body, "7")).request_id == 7


def test_pull_in_click() -> None:
    body = with_value(sample("block_actions.json"), "U0BEN", "pull_in:12:U0BEN")
    click = PullInClick.model_validate(body)
    assert (click.colleague_id, click.request_id) == ("U0BEN", 12)
    odd = with_value(body, "U0BEN", "pull_in:twelve:U0BEN")
    assert PullInClick.model_validate(odd).request_id == 0  # no such request: refused later


def test_view_submission_of_the_edit_modal() -> None:
    body = sample("view_submission.json")
    assert parse(EditedReply, body) is None  # "This is for you!" is not our metadata
    edit = submitted(
        body, '{"draft_id": 5}', text_input(BlockId.EDIT_TEXT, BlockId.EDIT_TEXT_INPUT, "  Hi ")
    )
    edited = EditedReply.model_validate(edit)
    assert (edited.draft_id, edited.text, edited.user_id) == (5, "Hi", "W111")
    assert edited.actor.team_id == "T111"
    empty = submitted(
        body, '{"draft_id": 5}', text_input(BlockId.EDIT_TEXT, BlockId.EDIT_TEXT_INPUT, None)
    )
    assert EditedReply.model_validate(empty).text == ""


def test_view_submission_of_the_reject_modal_from_the_other_side() -> None:
    body = sample("view_submission_slack_connect.json")
    reject = submitted(body, '{"draft_id": 9}', {})
    rejection = Rejection.model_validate(reject)
    assert (rejection.draft_id, rejection.reason) == (9, "")
    # Submitted by a user of the other organisation: that is who acted, not the installer.
    assert rejection.actor.team_id == "T-other-side"
    assert rejection.actor.enterprise_id == "E-other-side"


def test_view_submission_of_the_escalation_modal() -> None:
    body = sample("view_submission.json")
    values = {
        **select(BlockId.ESCALATE_REQUEST, BlockId.ESCALATE_REQUEST_INPUT, "31"),
        **select(BlockId.ESCALATE_PRIORITY, BlockId.ESCALATE_PRIORITY_INPUT, "P1"),
        **text_input(BlockId.ESCALATE_REASON, BlockId.ESCALATE_REASON_INPUT, " down "),
    }
    chosen = EscalationForm.model_validate(submitted(body, '{"channel_id": "C1"}', values))
    assert (chosen.request_id, chosen.priority, chosen.reason) == (31, "P1", "down")
    one = EscalationForm.model_validate(submitted(body, '{"request_id": 4}', {}))
    assert (one.request_id, one.priority, one.reason) == (4, "P2", "")
    assert EscalationForm.model_validate(submitted(body, "", {})).request_id is None


def test_message_shortcut() -> None:
    shortcut = MessageShortcut.model_validate(sample("message_shortcut.json"))
    assert (shortcut.channel_id, shortcut.message_ts) == ("C111", "1583636382.000300")
    assert shortcut.thread_ts is None and shortcut.trigger_id == "111.222.xxx"
    assert shortcut.response_url == "https://hooks.slack.com/app/T111/111/xxx"
    assert shortcut.actor.team_id == "T111"


def test_app_home_opened() -> None:
    opened = AppHomeOpened.model_validate(sample("event_app_home_opened_org_app.json"))
    assert (opened.user_id, opened.tab) == ("W111", "messages")
    assert AppHomeOpened.model_validate({"event": {"user": "U1"}}).tab == "home"


@pytest.mark.parametrize(
    "model, broken",
    [
        (DraftClick, {"type": "block_actions", "actions": "x"}),
        (DraftClick, {"type": "block_actions", "user": "U1", "actions": [{"value": "1"}]}),
        (RequestClick, {"type": "block_actions", "actions": [{"action_id": "escalate"}]}),
        (EditedReply, {"type": "view_submission", "user": {"id": "U1"}, "view": {}}),
        (EditedReply, {"type": "view_submission", "view": {"state": "x"}}),
        (Rejection, {"type": "view_submission", "view": {"private_metadata": "[1]"}}),
        (EscalationForm, {"type": "view_submission", "user": {"id": "U1"}}),
        (MessageShortcut, {"type": "message_action", "user": {"id": "U1"}, "message": "x"}),
        (AppHomeOpened, {"type": "event_callback", "event": {"type": "app_home_opened"}}),
    ],
)
def test_what_does_not_parse_is_logged_not_raised(
    model: type, broken: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert parse(model, broken) is None
    [logged] = [r.msg for r in caplog.records if isinstance(r.msg, dict)]
    assert logged["event"] == "listener.bad_payload" and logged["payload"] == model.__name__
    assert logged["error"]  # says what was wrong


def test_the_samples_pass_the_routing_check_and_garbage_does_not() -> None:
    for name in ("block_actions.json", "view_submission.json", "message_shortcut.json"):
        body = sample(name)
        ROUTING[body["type"]].model_validate(body)
    ROUTING["event_callback"].model_validate(sample("event_app_home_opened_org_app.json"))
    for body in (
        {"type": "block_actions", "actions": "x"},
        {"type": "block_actions", "actions": []},
        {"type": "view_submission", "view": {"callback_id": "edit_draft"}},
        {"type": "message_action"},
        {"type": "event_callback", "event": "x"},
    ):
        with pytest.raises(ValueError):
            ROUTING[body["type"]].model_validate(body)
