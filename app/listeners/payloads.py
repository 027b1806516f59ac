"""Slack's payloads, parsed at the boundary into the few fields the listeners use.

One model per kind of request: a slash command, a click on one of the card's buttons, a
modal's submission, the message shortcut, the App Home opened; and, for the message and
reaction events handed to `workers` whole, the fields the workers read. Nested fields are read with
`AliasPath`, so no listener walks a payload with `.get(...)` chains, and a value of the wrong
type is refused here rather than found out halfway through a decision. Listeners call
`parse`: a body that does not parse is logged as `listener.bad_payload` with what was wrong,
and the listener answers with a bare ack (never a 500, never a traceback).

`ROUTING` is the part of each payload Bolt itself reads to pick a listener; `wiring` checks it
before Bolt does, because Bolt fails with a 500 on, say, `"actions": "x"`.

The shapes follow Slack's published samples (tests/fixtures/slack_samples).
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import structlog
from pydantic import (
    AliasPath,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Json,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationError,
)

from app.escalation import DEFAULT_PRIORITY
from workers.ids import BlockId

log = structlog.get_logger(__name__)

Payload = TypeVar("Payload", bound=BaseModel)

# A text input: Slack sends `null` for an empty one; we want the words without outer spaces.
Typed = Annotated[
    str, BeforeValidator(lambda v: "" if v is None else v), StringConstraints(strip_whitespace=True)
]
# An id or a ts as the store keeps it (its columns hold 32 characters; Slack's are 9 to 20).
SlackId = Annotated[str, StringConstraints(max_length=32)]
# Where Bolt's `respond` posts: Slack's hooks.slack.com, or the emulator's, in tests. Anything
# else (no scheme, spaces, a JSON object) would fail in the listener, after the ack was due.
ResponseUrl = Annotated[str, StringConstraints(pattern=r"^https?://[!-~]+$")]


def _at(first: str, *rest: str | int, default: Any = ...) -> Any:
    """A field read from `first.rest...` in the payload (required unless it has a default)."""
    return Field(default, validation_alias=AliasPath(first, *rest), validate_default=True)


def _input(block: BlockId, action: BlockId, *rest: str, default: Any = None) -> Any:
    """A field read from a modal's input: `view.state.values[block][action]...`."""
    return _at("view", "state", "values", block.value, action.value, *rest, default=default)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Actor(_Model):
    """Who acted, and where they belong: what `people.is_our_person` checks."""

    user_id: str
    team_id: str | None
    enterprise_id: str | None


class SlashCommand(_Model):
    """A slash command (`/triage`, `/escalate`): Slack sends a flat form body.

    `response_url` is what Bolt's `respond` answers through; `trigger_id` opens a modal."""

    user_id: SlackId
    team_id: SlackId
    enterprise_id: SlackId | None = None
    channel_id: SlackId
    text: str = ""
    trigger_id: str
    response_url: ResponseUrl

    @property
    def actor(self) -> Actor:
        return Actor(user_id=self.user_id, team_id=self.team_id, enterprise_id=self.enterprise_id)


class _Interaction(_Model):
    """Who clicked or submitted: interactivity payloads nest it (`user`, `team`, `enterprise`)."""

    user_id: SlackId = _at("user", "id")
    user_team_id: SlackId | None = _at("user", "team_id", default=None)
    team_id: SlackId | None = _at("team", "id", default=None)
    enterprise_id: SlackId | None = _at("enterprise", "id", default=None)

    @property
    def actor(self) -> Actor:
        """The user's own team (in a Slack Connect channel, not the payload's `team`)."""
        team = self.user_team_id or self.team_id
        return Actor(user_id=self.user_id, team_id=team, enterprise_id=self.enterprise_id)


class BlockAction(_Interaction):
    """A click on a button of a message (`block_actions`): the first action is ours."""

    action_id: str = _at("actions", 0, "action_id")
    block_id: str = _at("actions", 0, "block_id", default="")
    trigger_id: str
    response_url: ResponseUrl


class DraftClick(BlockAction):
    """Approve, edit, regenerate or reject: the button's value is the draft's id."""

    draft_id: int = _at("actions", 0, "value")


class RequestClick(BlockAction):
    """The card's Escalate button: its value is the request's id."""

    request_id: int = _at("actions", 0, "value")


class PullInClick(BlockAction):
    """Pull in a suggested colleague: value, the colleague; block_id, `pull_in:<request>:<user>`."""

    colleague_id: SlackId = _at("actions", 0, "value")

    @property
    def request_id(self) -> int:
        """The request from the block id; 0 (no such request) when it is not one of ours."""
        _, _, rest = self.block_id.partition(":")
        number = rest.partition(":")[0]
        return int(number) if number.isdigit() else 0


class MessageShortcut(_Interaction):
    """A message shortcut (`message_action`): the message it was run on, and where."""

    channel_id: SlackId = _at("channel", "id")
    message_ts: SlackId = _at("message", "ts")
    thread_ts: SlackId | None = _at("message", "thread_ts", default=None)
    trigger_id: str
    response_url: ResponseUrl


class _Submission(_Interaction):
    """A modal's `view_submission`. Slack always sends the view's state; without it, the
    inputs the subclasses read would pass for empty ones."""

    values: dict[str, dict[str, Any]] = _at("view", "state", "values")


class _DraftRef(_Model):
    draft_id: int


class _DraftModal(_Submission):
    """A modal opened on a draft: the draft's id is in the view's metadata."""

    metadata: Json[_DraftRef] = _at("view", "private_metadata")

    @property
    def draft_id(self) -> int:
        return self.metadata.draft_id


class EditedReply(_DraftModal):
    """The `edit_draft` modal: the reply as the approver wrote it."""

    text: Typed = _input(BlockId.EDIT_TEXT, BlockId.EDIT_TEXT_INPUT, "value", default="")


class Rejection(_DraftModal):
    """The `reject_draft` modal: why the draft needs no reply (optional)."""

    reason: Typed = _input(BlockId.REJECT_REASON, BlockId.REJECT_REASON_INPUT, "value", default="")


class _EscalateRef(_Model):
    request_id: int | None = None  # set when the modal was opened for one request


class EscalationForm(_Submission):
    """The `escalate_request` modal: which request, at what level, and why."""

    metadata: Annotated[Json[_EscalateRef], BeforeValidator(lambda v: v or "{}")] = _at(
        "view", "private_metadata", default="{}"
    )
    chosen_request: int | None = _input(
        BlockId.ESCALATE_REQUEST, BlockId.ESCALATE_REQUEST_INPUT, "selected_option", "value"
    )
    chosen_priority: str | None = _input(
        BlockId.ESCALATE_PRIORITY, BlockId.ESCALATE_PRIORITY_INPUT, "selected_option", "value"
    )
    reason: Typed = _input(
        BlockId.ESCALATE_REASON, BlockId.ESCALATE_REASON_INPUT, "value", default=""
    )

    @property
    def request_id(self) -> int | None:
        return self.metadata.request_id or self.chosen_request

    @property
    def priority(self) -> str:
        return self.chosen_priority or DEFAULT_PRIORITY


class AppHomeOpened(_Model):
    """`app_home_opened`: who opened which tab of the app."""

    user_id: SlackId = _at("event", "user")
    tab: str = _at("event", "tab", default="home")


# --- events handed to workers whole ------------------------------------------------------------


class _File(_Model):
    """What `workers.classify.file_summary` keeps of a file, and its workers read."""

    id: SlackId | None = None
    name: str | None = None
    title: str | None = None
    mimetype: str | None = None
    filetype: str | None = None
    permalink: str | None = None
    url_private: str | None = None
    size: StrictInt | None = None


class _Profile(_Model):
    team: SlackId | None = None


class _Words(_Model):
    """A message as `workers.classify` reads it: who, where, when, and what they wrote."""

    user: SlackId | None = None
    ts: SlackId | None = None
    thread_ts: SlackId | None = None
    subtype: str | None = None
    text: str | None = None
    team: SlackId | None = None
    user_team: SlackId | None = None
    user_profile: _Profile | None = None
    files: list[_File] | None = None


class _MessageEvent(_Words):
    """Where and when: Slack sends both with every message event, and a request needs them."""

    channel: Annotated[SlackId, StringConstraints(min_length=1)]
    ts: Annotated[SlackId, StringConstraints(min_length=1)]
    deleted_ts: SlackId | None = None
    message: _Words | None = None  # the new version, in a `message_changed`


class MessageEnvelope(_Model):
    """A `message` event, checked before `workers.ingest` classifies and stores it: each field
    it reads has the type it expects, and the length its column holds. Strict about
    `is_ext_shared_channel`: `"false"` would be a truthy string there, not a false."""

    event_id: Annotated[str, StringConstraints(max_length=64)] | None = None
    is_ext_shared_channel: StrictBool | None = None
    enterprise_id: SlackId | None = None
    context_team_id: SlackId | None = None
    context_enterprise_id: SlackId | None = None
    event: _MessageEvent


class _Item(_Model):
    type: str | None = None
    channel: SlackId | None = None
    ts: SlackId | None = None


class _Reaction(_Model):
    user: SlackId | None = None
    reaction: str = ""
    item: _Item | None = None
    event_ts: SlackId | None = None


class ReactionEnvelope(_Model):
    """A `reaction_added`/`removed`, checked before `workers.reactions` stores it for a job."""

    event_id: Annotated[str, StringConstraints(max_length=64)] | None = None
    event: _Reaction


def parse(model: type[Payload], body: dict[str, Any], *, report: bool = True) -> Payload | None:
    """`body` as `model`, or None when it does not parse (logged as `listener.bad_payload`).

    `report=False` in the lazy half of a listener whose ack half already reported it."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        if report:
            log.warning(
                "listener.bad_payload",
                payload=model.__name__,
                type=body.get("type") or body.get("command"),
                error=problems(exc),
            )
        return None


def problems(exc: ValidationError) -> str:
    """What did not parse, on one line: `actions.0.value: Input should be a valid integer`."""
    found = (
        f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
        for error in exc.errors(include_url=False)
    )
    return "; ".join(found)[:500]


# --- what Bolt reads to choose a listener ------------------------------------------------------


class _ActionRoute(_Model):
    action_id: str


class _BlockActionsRoute(_Model):
    actions: list[_ActionRoute] = Field(min_length=1)


class _ViewRoute(_Model):
    type: str
    callback_id: str


class _ViewPayloadRoute(_Model):
    view: _ViewRoute


class _CallbackRoute(_Model):
    callback_id: str


class _EventRoute(_Model):
    type: str


class _EventCallbackRoute(_Model):
    event: _EventRoute


ROUTING: dict[str, type[BaseModel]] = {
    "block_actions": _BlockActionsRoute,
    "view_submission": _ViewPayloadRoute,
    "view_closed": _ViewPayloadRoute,
    "message_action": _CallbackRoute,
    "shortcut": _CallbackRoute,
    "event_callback": _EventCallbackRoute,
}
