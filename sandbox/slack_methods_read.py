"""Read-side handlers of the Slack emulator (developer tool / tests' fake Slack).

auth.test, conversations.*, users.*, usergroups.users.list, team.info and bots.info. Handlers
take ``(world, caller, args)`` with the world lock held and return the answer's fields besides
``"ok": true``; errors are raised as ``SlackError``.
"""

from __future__ import annotations

import copy
from typing import Any

from sandbox.slack_args import (
    decode_cursor,
    encode_cursor,
    flag,
    in_range,
    integer,
    ts_value,
)
from sandbox.slack_methods_chat import Handler, resolve_channel
from sandbox.slack_state import Caller, SlackError, World


def auth_test(world: World, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    """auth.test: who the token belongs to."""
    team = world.teams.get(caller.team_id, {"name": "", "url": ""})
    user = world.users.get(caller.user_id, {"name": ""})
    answer: dict[str, Any] = {
        # Where this emulator serves its permalinks (`/archives/...`), as Slack answers its own
        # workspace URL: a permalink built from it (as the app does) opens here.
        "url": f"{world.base_url}/" if world.base_url else team["url"],
        "team": team["name"],
        "user": user["name"],
        "team_id": caller.team_id,
        "user_id": caller.user_id,
    }
    if caller.bot_id:
        answer["bot_id"] = caller.bot_id
    if caller.enterprise_id:
        answer["enterprise_id"] = caller.enterprise_id
    answer["is_enterprise_install"] = False
    return answer


def channel_object(world: World, caller: Caller, channel_id: str, *, num_members: bool) -> dict:
    """Return the ``conversations.info`` channel object as seen by ``caller``."""
    record = world.channel(channel_id)
    created = record["created"]
    if record.get("is_im"):
        return {
            "id": channel_id,
            "created": created,
            "is_archived": False,
            "is_im": True,
            "is_org_shared": False,
            "context_team_id": caller.team_id,
            "updated": created * 1000,
            "user": record["name"],
            "is_user_deleted": world.users.get(record["name"], {}).get("deleted", False),
            "priority": 0,
        }
    shared = record["is_ext_shared"]
    empty_text = {"value": "", "creator": "", "last_set": 0}
    info: dict[str, Any] = {
        "id": channel_id,
        "name": record["name"],
        "is_channel": True,
        "is_group": False,
        "is_im": False,
        "is_mpim": False,
        "is_private": record["is_private"],
        "created": created,
        "is_archived": False,
        "is_general": False,
        "unlinked": 0,
        "name_normalized": record["name"],
        "is_shared": shared,
        "is_org_shared": False,
        "is_pending_ext_shared": False,
        "pending_shared": [],
        "context_team_id": caller.team_id,
        "updated": created * 1000,
        "parent_conversation": None,
        "creator": "",
        "is_ext_shared": shared,
        "pending_connected_team_ids": [],
        "conversation_host_id": world.host_team_id,
        "is_member": world.is_member(channel_id, caller.user_id),
        "last_read": "0000000000.000000",
        "topic": dict(empty_text),
        "purpose": dict(empty_text),
        "previous_names": [],
    }
    if shared:
        teams = record["connected_team_ids"] or sorted(
            {world.host_team_id} | {world.team_of(u) for u in world.channel_members(channel_id)}
        )
        info.update(
            shared_team_ids=[caller.team_id],
            internal_team_ids=[],
            connected_team_ids=list(teams),
            connected_limited_team_ids=[],
        )
    if num_members:
        info["num_members"] = len(world.channel_members(channel_id))
    return info


def conversations_info(world: World, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    """conversations.info (``num_members`` only with include_num_members, like Slack)."""
    channel_id = resolve_channel(world, caller, args.get("channel"))
    channel = channel_object(
        world, caller, channel_id, num_members=flag(args.get("include_num_members"))
    )
    if flag(args.get("include_locale")):
        channel["locale"] = "en-US"
    return {"channel": channel}


def conversations_history(world: World, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    """conversations.history: channel-level messages, newest first, cursor paginated."""
    channel_id = resolve_channel(world, caller, args.get("channel"))
    world.require_member(channel_id, caller.user_id)
    oldest = ts_value(args.get("oldest"), "invalid_ts_oldest")
    latest = ts_value(args.get("latest"), "invalid_ts_latest")
    inclusive = flag(args.get("inclusive"))
    limit = integer(args.get("limit"), 100, high=999)
    cursor_ts = ts_value(decode_cursor(args.get("cursor"), "next_ts"), "invalid_cursor")
    candidates = [
        msg
        for msg in reversed(world.top_level(channel_id))
        if in_range(msg["ts"], oldest, latest, inclusive=inclusive)
        and in_range(msg["ts"], None, cursor_ts, inclusive=False)
    ]
    page = candidates[:limit]
    metadata = flag(args.get("include_all_metadata"))
    answer: dict[str, Any] = {
        "messages": [world.render(channel_id, m, include_metadata=metadata) for m in page],
        "has_more": len(candidates) > limit,
        "pin_count": 0,
        "channel_actions_ts": None,
        "channel_actions_count": 0,
    }
    if answer["has_more"]:
        answer["response_metadata"] = {"next_cursor": encode_cursor("next_ts", page[-1]["ts"])}
    return answer


def conversations_replies(world: World, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    """conversations.replies: parent first (on every page, like Slack), replies ascending."""
    channel_id = resolve_channel(world, caller, args.get("channel"))
    world.require_member(channel_id, caller.user_id)
    ts = str(args.get("ts") or "")
    parent = world.messages.get(channel_id, {}).get(ts)
    if parent is None:
        raise SlackError("thread_not_found")
    metadata = flag(args.get("include_all_metadata"))
    shown_parent = world.render(channel_id, parent, include_metadata=metadata)
    if parent.get("thread_ts") not in (None, ts):
        return {"messages": [shown_parent], "has_more": False}
    oldest = ts_value(args.get("oldest"), "invalid_ts_oldest")
    latest = ts_value(args.get("latest"), "invalid_ts_latest")
    inclusive = flag(args.get("inclusive"))
    per_page = max(integer(args.get("limit"), 1000, high=1000) - 1, 1)
    cursor_ts = ts_value(decode_cursor(args.get("cursor"), "next_ts"), "invalid_cursor")
    candidates = [
        msg
        for msg in world.replies(channel_id, ts)
        if in_range(msg["ts"], oldest, latest, inclusive=inclusive)
        and in_range(msg["ts"], cursor_ts, None, inclusive=False)
    ]
    page = candidates[:per_page]
    answer: dict[str, Any] = {
        "messages": [shown_parent]
        + [world.render(channel_id, m, include_metadata=metadata) for m in page],
        "has_more": len(candidates) > per_page,
    }
    if answer["has_more"]:
        answer["response_metadata"] = {"next_cursor": encode_cursor("next_ts", page[-1]["ts"])}
    return answer


def conversations_members(world: World, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    """conversations.members: member ids, offset cursor paginated."""
    channel_id = resolve_channel(world, caller, args.get("channel"))
    members = world.channel_members(channel_id)
    limit = integer(args.get("limit"), 100, high=1000)
    start = int(decode_cursor(args.get("cursor"), "next_member") or 0)
    page = members[start : start + limit]
    more = start + limit < len(members)
    cursor = encode_cursor("next_member", str(start + limit)) if more else ""
    return {"members": page, "response_metadata": {"next_cursor": cursor}}


def users_conversations(world: World, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    """users.conversations: the channels a user (default: the caller) is a member of."""
    user = args.get("user") or caller.user_id
    wanted = set(str(args.get("types") or "public_channel").split(","))
    skip_archived = flag(args.get("exclude_archived"))
    found = []
    for channel_id in sorted(world.channels):
        record = world.channels[channel_id]
        kind = "private_channel" if record.get("is_private") else "public_channel"
        if record.get("is_im") or kind not in wanted:
            continue
        if skip_archived and record.get("is_archived"):
            continue
        if user in world.channel_members(channel_id):
            found.append(channel_object(world, caller, channel_id, num_members=False))
    limit = integer(args.get("limit"), 100, high=1000)
    start = int(decode_cursor(args.get("cursor"), "next_channel") or 0)
    more = start + limit < len(found)
    cursor = encode_cursor("next_channel", str(start + limit)) if more else ""
    return {"channels": found[start : start + limit], "response_metadata": {"next_cursor": cursor}}


def users_info(world: World, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    """users.info."""
    user = copy.deepcopy(world.user(args.get("user")))
    if flag(args.get("include_locale")):
        user["locale"] = "en-US"
    return {"user": user}


def users_lookup_by_email(world: World, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    """users.lookupByEmail (``users_not_found`` like Slack, note the plural)."""
    email = str(args.get("email") or "").lower()
    for user in world.users.values():
        if email and user["profile"].get("email", "").lower() == email:
            return {"user": copy.deepcopy(user)}
    raise SlackError("users_not_found")


def users_get_presence(world: World, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    """users.getPresence (set with ``SlackEmulator.set_presence``)."""
    user_id = str(args.get("user") or caller.user_id)
    world.user(user_id)
    presence = world.presence.get(user_id, "away")
    answer: dict[str, Any] = {"presence": presence}
    if user_id == caller.user_id:
        answer.update(
            online=presence == "active",
            auto_away=False,
            manual_away=presence != "active",
            connection_count=1,
        )
    return answer


def usergroups_users_list(world: World, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    """usergroups.users.list."""
    group = world.usergroups.get(str(args.get("usergroup") or ""))
    if group is None:
        raise SlackError("no_such_subteam")
    return {"users": list(group["users"])}


def team_info(world: World, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    """team.info (defaults to the caller's team)."""
    team = world.teams.get(str(args.get("team") or caller.team_id))
    if team is None:
        raise SlackError("team_not_found")
    return {"team": copy.deepcopy(team)}


def bots_info(world: World, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    """bots.info."""
    bot = world.bots.get(str(args.get("bot") or ""))
    if bot is None:
        raise SlackError("bot_not_found")
    return {"bot": copy.deepcopy(bot)}


READ_METHODS: dict[str, Handler] = {
    "auth.test": auth_test,
    "conversations.info": conversations_info,
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
    "conversations.members": conversations_members,
    "users.conversations": users_conversations,
    "users.info": users_info,
    "users.lookupByEmail": users_lookup_by_email,
    "users.getPresence": users_get_presence,
    "usergroups.users.list": usergroups_users_list,
    "team.info": team_info,
    "bots.info": bots_info,
}
