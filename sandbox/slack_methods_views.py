"""views.* handlers of the Slack emulator (developer tool / tests' fake Slack).

Modals and App Home views are stored by id and logged in ``World.view_log`` so tests can see
what the app opened or published.
"""

from __future__ import annotations

import copy
import secrets
import time
from typing import Any

from sandbox.slack_args import blocks_with_ids, structured
from sandbox.slack_methods_chat import Handler
from sandbox.slack_state import Caller, SlackError, World

_OPTIONAL_VIEW_FIELDS = ("title", "close", "submit")


def _view_object(
    world: World, caller: Caller, view: Any, *, view_id: str, previous: dict | None = None
) -> dict[str, Any]:
    """Return the full view object Slack answers for a view definition."""
    view = structured(view, "invalid_arguments")
    if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
        raise SlackError("invalid_arguments")
    shown: dict[str, Any] = {
        "id": view_id,
        "team_id": caller.team_id,
        "type": view["type"],
        "blocks": blocks_with_ids(view.get("blocks", []), "invalid_arguments"),
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
        "state": {"values": {}},
        "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
    }
    for name in _OPTIONAL_VIEW_FIELDS:
        if name in view:
            shown[name] = view[name]
    shown.update(
        clear_on_close=bool(view.get("clear_on_close", False)),
        notify_on_close=bool(view.get("notify_on_close", False)),
        previous_view_id=None,
        root_view_id=previous["root_view_id"] if previous else view_id,
        app_id=world.app_id,
        external_id=view.get("external_id", ""),
        app_installed_team_id=caller.team_id,
        bot_id=caller.bot_id,
    )
    return shown


def _log(world: World, method: str, view: dict, **fields: Any) -> dict[str, Any]:
    world.views[view["id"]] = view
    world.view_log.append({"method": method, **fields, "view": copy.deepcopy(view)})
    return {"view": copy.deepcopy(view)}


def views_open(world: World, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    """views.open (``expired_trigger_id`` for triggers passed to ``expire_trigger``)."""
    trigger_id = str(args.get("trigger_id") or "")
    if trigger_id in world.expired_triggers:
        raise SlackError("expired_trigger_id")
    if not trigger_id:
        raise SlackError("invalid_trigger_id")
    view = _view_object(world, caller, args.get("view"), view_id=world.next_id("V"))
    return _log(world, "views.open", view, trigger_id=trigger_id, user_id=None)


def views_update(world: World, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    """views.update by ``view_id`` or ``external_id`` (``hash_conflict`` on a stale hash)."""
    current = world.views.get(str(args.get("view_id") or ""))
    if current is None and args.get("external_id"):
        current = next(
            (v for v in world.views.values() if v["external_id"] == args["external_id"]), None
        )
    if current is None:
        raise SlackError("not_found")
    if args.get("hash") and args["hash"] != current["hash"]:
        raise SlackError("hash_conflict")
    view = _view_object(world, caller, args.get("view"), view_id=current["id"], previous=current)
    return _log(world, "views.update", view, trigger_id=None, user_id=None)


def views_publish(world: World, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    """views.publish: a user's App Home (same view id on every publish for that user)."""
    user_id = str(args.get("user_id") or "")
    world.user(user_id)
    current = world.views.get(world.home_views.get(user_id, ""))
    if current and args.get("hash") and args["hash"] != current["hash"]:
        raise SlackError("hash_conflict")
    view_id = current["id"] if current else world.next_id("V")
    view = _view_object(world, caller, args.get("view"), view_id=view_id, previous=current)
    if view["type"] != "home":
        raise SlackError("invalid_arguments")
    world.home_views[user_id] = view_id
    return _log(world, "views.publish", view, trigger_id=None, user_id=user_id)


VIEW_METHODS: dict[str, Handler] = {
    "views.open": views_open,
    "views.update": views_update,
    "views.publish": views_publish,
}
