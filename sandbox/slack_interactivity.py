"""Interactivity requests as Slack sends them (developer tool / tests' fake Slack).

``block_actions`` and ``view_submission`` payloads shaped like
``shared/specs/slack/samples/block_actions.json`` / ``view_submission*.json``. On the wire they
are form bodies ``payload=<URL-encoded JSON>``: use the ``*_body`` functions with
``sandbox.slack_events.deliver``.
"""

from __future__ import annotations

import copy
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode


def form_body(payload: dict[str, Any]) -> bytes:
    """Return the ``payload=<URL-encoded JSON>`` form body Slack posts for interactivity."""
    return urlencode({"payload": json.dumps(payload)}).encode()


def _trigger_id() -> str:
    return f"{int(time.time() * 1000)}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"


def _team(team_id: str, enterprise_id: str | None, domain: str | None) -> dict[str, Any]:
    team: dict[str, Any] = {"id": team_id, "domain": domain or team_id.lower()}
    if enterprise_id:
        team.update(enterprise_id=enterprise_id, enterprise_name=f"{enterprise_id} Org")
    return team


def _user(user_id: str, user_team_id: str, user_name: str | None) -> dict[str, Any]:
    name = user_name or user_id.lower()
    return {"id": user_id, "username": name, "name": name, "team_id": user_team_id}


def _enterprise(enterprise_id: str | None) -> dict[str, Any] | None:
    return {"id": enterprise_id, "name": f"{enterprise_id} Org"} if enterprise_id else None


def find_element(message: dict[str, Any], action_id: str) -> tuple[str | None, dict[str, Any]]:
    """Return ``(block_id, element)`` of the interactive element ``action_id`` in a message."""
    for block in message.get("blocks", []):
        candidates = list(block.get("elements", []))
        for key in ("accessory", "element"):
            if isinstance(block.get(key), dict):
                candidates.append(block[key])
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return block.get("block_id"), element
    return None, {}


def block_actions_payload(
    *,
    user_id: str,
    user_team_id: str,
    team_id: str,
    channel_id: str,
    message_ts: str,
    message: dict[str, Any],
    action_id: str,
    response_url: str,
    value: str | None = None,
    block_id: str | None = None,
    trigger_id: str | None = None,
    enterprise_id: str | None = None,
    api_app_id: str = "A0APP",
    user_name: str | None = None,
    team_domain: str | None = None,
    is_ephemeral: bool = False,
    selected_option: dict[str, Any] | None = None,
    state_values: dict[str, Any] | None = None,
    token: str = "verification-token",
) -> dict[str, Any]:
    """Return a ``block_actions`` payload for a click on ``action_id`` in a message.

    ``block_id``, the element ``type``, its ``text`` and ``value`` default to the element found
    in ``message["blocks"]``. ``team_id`` is the team of the payload's ``team`` object (the
    acting user's side in a Slack Connect channel).
    """
    found_block, element = find_element(message, action_id)
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": block_id or found_block or "",
        "type": element.get("type", "button"),
    }
    if "text" in element:
        action["text"] = element["text"]
    if value is not None or "value" in element:
        action["value"] = value if value is not None else element["value"]
    if selected_option is not None:
        action["selected_option"] = selected_option
    action["action_ts"] = f"{time.time():.6f}"
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel_id,
        "is_ephemeral": is_ephemeral,
    }
    thread_ts = message.get("thread_ts")
    if thread_ts and thread_ts != message_ts:
        container["thread_ts"] = thread_ts
    return {
        "type": "block_actions",
        "user": _user(user_id, user_team_id, user_name),
        "api_app_id": api_app_id,
        "token": token,
        "container": container,
        "trigger_id": trigger_id or _trigger_id(),
        "team": _team(team_id, enterprise_id, team_domain),
        "enterprise": _enterprise(enterprise_id),
        "is_enterprise_install": False,
        "channel": {"id": channel_id},
        "message": copy.deepcopy(message),
        "state": {"values": copy.deepcopy(state_values or {})},
        "response_url": response_url,
        "actions": [action],
    }


def block_actions_body(**kwargs: Any) -> bytes:
    """Form body (``payload=...``) of ``block_actions_payload(**kwargs)``."""
    return form_body(block_actions_payload(**kwargs))


def state_values(values: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Normalise ``{block_id: {action_id: "text" | state}}`` to Slack's ``state.values``."""
    normalised: dict[str, dict[str, Any]] = {}
    for block_id, actions in values.items():
        normalised[block_id] = {
            action_id: (
                {"type": "plain_text_input", "value": state}
                if isinstance(state, str) or state is None
                else copy.deepcopy(state)
            )
            for action_id, state in actions.items()
        }
    return normalised


def view_submission_payload(
    *,
    user_id: str,
    user_team_id: str,
    team_id: str,
    view: dict[str, Any],
    values: dict[str, dict[str, Any]],
    enterprise_id: str | None = None,
    api_app_id: str = "A0APP",
    app_installed_team_id: str | None = None,
    bot_id: str | None = None,
    trigger_id: str | None = None,
    user_name: str | None = None,
    team_domain: str | None = None,
    response_urls: list[dict[str, Any]] | None = None,
    token: str = "verification-token",
) -> dict[str, Any]:
    """Return a ``view_submission`` payload for ``view`` submitted with ``values``.

    ``view`` is the view object the API returned (e.g. from ``SlackEmulator.views()``);
    ``values`` is ``{block_id: {action_id: "typed text" | full state dict}}``.
    ``app_installed_team_id`` (default ``view["app_installed_team_id"]``, else ``team_id``)
    is the installing workspace; it differs from ``team_id`` for Slack Connect users.
    """
    submitted = copy.deepcopy(view)
    submitted["state"] = {"values": state_values(values)}
    submitted.setdefault("id", "V" + secrets.token_hex(5).upper())
    submitted.setdefault("team_id", team_id)
    submitted.setdefault("private_metadata", "")
    submitted.setdefault("callback_id", "")
    submitted.setdefault("hash", f"{int(time.time())}.{secrets.token_hex(4)}")
    submitted.setdefault("root_view_id", submitted["id"])
    submitted.setdefault("previous_view_id", None)
    submitted.setdefault("app_id", api_app_id)
    submitted.setdefault("external_id", "")
    submitted["app_installed_team_id"] = (
        app_installed_team_id or submitted.get("app_installed_team_id") or team_id
    )
    if bot_id is not None:
        submitted["bot_id"] = bot_id
    return {
        "type": "view_submission",
        "team": _team(team_id, enterprise_id, team_domain),
        "user": _user(user_id, user_team_id, user_name),
        "api_app_id": api_app_id,
        "token": token,
        "trigger_id": trigger_id or _trigger_id(),
        "view": submitted,
        "response_urls": list(response_urls or []),
        "enterprise": _enterprise(enterprise_id),
        "is_enterprise_install": False,
    }


def view_submission_body(**kwargs: Any) -> bytes:
    """Form body (``payload=...``) of ``view_submission_payload(**kwargs)``."""
    return form_body(view_submission_payload(**kwargs))
