"""manifest.yml is one Slack accepts, and it asks for what the code listens to: no more, no less.

The schema: `tests/fixtures/slack_manifest.schema.1.0.0.json` is Slack's published JSON Schema
(draft-07) for app manifests, copied unchanged from slackapi/manifest-schema
`schemas/manifest.schema.1.0.0.json` (MIT licence, Slack Technologies; commit c50cfa8,
2026-07-21) by way of shared/specs/slack/. The copy keeps this test from ever skipping; where
`../shared/specs/slack/` sits beside the checkout (CI), that file is validated against as well.

What the code listens to is read from the Bolt app `create_app` builds, in OAuth mode (which
adds the `app_uninstalled` and `tokens_revoked` listeners): each of Bolt's built-in matchers
keeps the command, callback_id or event type it was registered with. Every name read that way
is then sent back as a request body and must be matched, so a Bolt upgrade that changes how its
matchers keep their arguments fails here instead of comparing empty sets.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from app.main import create_app
from app.oauth import BOT_SCOPES, REDIRECT_PATH
from app.web import create_web
from integrations.deps import Deps
from tests.harness import REPO, offline_deps

MANIFEST = REPO / "manifest.yml"
SCHEMAS = [
    REPO / "tests" / "fixtures" / "slack_manifest.schema.1.0.0.json",
    REPO.parent / "shared" / "specs" / "slack" / "manifest.schema.1.0.0.json",
]
EVENTS_PATH = "/slack/events"
# The bot scope each subscribed event needs (Slack's event pages, "Required scopes").
EVENT_SCOPES = {
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
    "message.mpim": "mpim:history",
    "reaction_added": "reactions:read",
    "reaction_removed": "reactions:read",
    "app_home_opened": None,
    "app_uninstalled": None,
    "tokens_revoked": None,
}


def load_manifest(text: str | None = None) -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text() if text is None else text)


def schema_errors(manifest: dict[str, Any], schema_path: Path) -> list[str]:
    schema = json.loads(schema_path.read_text())
    validator = jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in validator.iter_errors(manifest)
    ]


@pytest.mark.parametrize(
    "schema_path", [p for p in SCHEMAS if p.is_file()], ids=lambda p: str(p.parent.name)
)
def test_slack_accepts_the_manifest(schema_path: Path) -> None:
    assert schema_errors(load_manifest(), schema_path) == []


def test_slack_accepts_the_manifest_for_oauth_installs_too() -> None:
    """The header says to uncomment redirect_urls for OAuth installs: that is valid as well."""
    commented, uncommented = "  # redirect_urls:\n  #   - ", "  redirect_urls:\n    - "
    text = MANIFEST.read_text()
    assert commented in text
    manifest = load_manifest(text.replace(commented, uncommented))
    assert schema_errors(manifest, SCHEMAS[0]) == []
    (redirect,) = manifest["oauth_config"]["redirect_urls"]
    assert urlsplit(redirect).path == REDIRECT_PATH


def test_the_schema_refuses_commands_outside_features() -> None:
    """The check can fail: the layout this manifest once had is refused, in Slack's words."""
    manifest = load_manifest()
    manifest["oauth_config"]["slash_commands"] = manifest["features"].pop("slash_commands")
    assert schema_errors(manifest, SCHEMAS[0]) == [
        "oauth_config: Additional properties are not allowed ('slash_commands' was unexpected)"
    ]


# --- what the code listens to ------------------------------------------------------------------


@dataclass
class Listened:
    commands: set[str] = field(default_factory=set)
    shortcuts: set[str] = field(default_factory=set)  # callback_ids
    events: set[str] = field(default_factory=set)  # event types, as Bolt sees them


@pytest.fixture(scope="module")
def deps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deps]:
    """Settings for OAuth mode; nothing is served and nothing connects."""
    folder = tmp_path_factory.mktemp("manifest")
    with offline_deps(
        folder, slack_client_id="111.222", slack_client_secret="manifest-test-secret"
    ) as built:
        yield built


@pytest.fixture(scope="module")
def bolt(deps: Deps) -> App:
    return create_app(deps)


def dispatches(app: App, body: dict[str, Any], *, skip_catch_all: bool = True) -> bool:
    """Whether one of the app's listeners (not the acknowledge-anything one) takes this body."""
    request = BoltRequest(body=body, mode="socket_mode")
    catch_all = BoltRequest(
        body={"type": "event_callback", "event": {"type": "no_such_event_anywhere"}},
        mode="socket_mode",
    )
    for listener in app._listeners:
        if skip_catch_all and listener.matches(req=catch_all, resp=BoltResponse(status=200)):
            continue
        if listener.matches(req=request, resp=BoltResponse(status=200)):
            return True
    return False


def event_body(event_type: str) -> dict[str, Any]:
    return {"type": "event_callback", "event": {"type": event_type}}


def listened_to(app: App) -> Listened:
    """The commands, shortcut callback_ids and event types the app's listeners were given."""
    found = Listened()
    for listener in app._listeners:
        for matcher in listener.matchers:
            func = getattr(matcher, "func", None)
            if func is None:  # a matcher of our own would go here: none today
                continue
            kind = func.__qualname__.split(".")[0]  # e.g. "command.<locals>.func"
            values = inspect.getclosurevars(func).nonlocals
            if kind == "command":
                assert isinstance(values["command"], str), "a command pattern: list it here"
                found.commands.add(values["command"])
            elif kind in ("shortcut", "global_shortcut", "message_shortcut"):
                assert isinstance(values["callback_id"], str), "a callback_id pattern"
                found.shortcuts.add(values["callback_id"])
            elif kind == "event":
                event_type = values.get("event_type") or values["constraints"]["type"]
                if isinstance(event_type, re.Pattern):
                    assert event_type.fullmatch("no_such_event_anywhere"), (
                        f"an event pattern that is not a catch-all: {event_type.pattern}"
                    )
                    continue  # acknowledges whatever arrives; asks Slack for nothing
                found.events.add(event_type)
            elif kind == "message_event":  # app.message(...)
                found.events.add(values["constraints"]["type"])
    # The reading is right: each name found is taken by a listener when Slack sends it.
    for command in found.commands:
        assert dispatches(app, {"command": command, "text": ""}), command
    for callback_id in found.shortcuts:
        assert dispatches(app, {"type": "message_action", "callback_id": callback_id})
    for event_type in found.events:
        assert dispatches(app, event_body(event_type)), event_type
    return found


def test_the_code_listens_to_what_it_did_when_this_was_written(bolt: App) -> None:
    """Guards the reading above: it finds today's listeners (so it cannot pass on nothing)."""
    found = listened_to(bolt)
    assert {"/triage", "/escalate"} <= found.commands
    assert "escalate_message" in found.shortcuts
    assert {"message", "reaction_added", "app_home_opened", "tokens_revoked"} <= found.events


def test_the_manifest_has_every_command_and_shortcut_the_code_handles_and_no_other(
    bolt: App,
) -> None:
    features = load_manifest()["features"]
    found = listened_to(bolt)
    assert {c["command"] for c in features.get("slash_commands", [])} == found.commands
    assert {s["callback_id"] for s in features.get("shortcuts", [])} == found.shortcuts
    for shortcut in features.get("shortcuts", []):  # the type Slack sends is the one handled
        kind = {"message": "message_action", "global": "shortcut"}[shortcut["type"]]
        assert dispatches(bolt, {"type": kind, "callback_id": shortcut["callback_id"]})


def test_the_manifest_subscribes_to_every_event_the_code_handles_and_no_other(bolt: App) -> None:
    events = load_manifest()["settings"]["event_subscriptions"]["bot_events"]
    assert len(events) == len(set(events))
    # message.channels and message.groups are both Bolt's "message" (app.event("message")).
    assert {event.split(".")[0] for event in events} == listened_to(bolt).events
    assert {"app_uninstalled", "tokens_revoked"} <= set(events)
    for event in events:
        assert dispatches(bolt, event_body(event.split(".")[0])), event


def test_the_scopes_asked_for_are_the_manifests(bolt: App) -> None:
    manifest = load_manifest()
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert scopes == BOT_SCOPES
    assert bolt.oauth_flow is not None
    assert bolt.oauth_flow.settings.scopes == scopes  # what /slack/install asks Slack for
    assert len(scopes) == len(set(scopes))
    # Scopes the manifest's own features need, from nothing but the manifest.
    features = manifest["features"]
    uses_commands = bool(features.get("slash_commands") or features.get("shortcuts"))
    assert ("commands" in scopes) == uses_commands
    for event in manifest["settings"]["event_subscriptions"]["bot_events"]:
        assert event in EVENT_SCOPES, f"{event}: add the scope it needs to EVENT_SCOPES"
        assert EVENT_SCOPES[event] is None or EVENT_SCOPES[event] in scopes, event


def test_every_request_url_is_the_one_the_app_serves(bolt: App, deps: Deps) -> None:
    manifest = load_manifest()
    urls = [c["url"] for c in manifest["features"].get("slash_commands", [])]
    urls.append(manifest["settings"]["event_subscriptions"]["request_url"])
    urls.append(manifest["settings"]["interactivity"]["request_url"])
    assert {urlsplit(url).path for url in urls} == {EVENTS_PATH}
    served = {rule.rule for rule in create_web(bolt, deps).url_map.iter_rules()}
    assert EVENTS_PATH in served
