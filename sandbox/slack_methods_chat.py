"""chat.* and reactions.* handlers of the Slack emulator (developer tool / tests' fake Slack).

Each handler takes ``(world, caller, args)`` with the world lock held and returns the fields of
the answer besides ``"ok": true``; errors are raised as ``SlackError``.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from typing import Any

from sandbox.slack_args import blocks_with_ids, flag, metadata_value, structured
from sandbox.slack_state import Caller, Message, SlackError, World

Handler = Callable[[World, Caller, dict[str, Any]], dict[str, Any]]


def resolve_channel(world: World, caller: Caller, channel: Any) -> str:
    """Resolve ``#name``, a user id (DM) or a channel id to a known channel id."""
    channel = str(channel or "")
    if channel.startswith("#"):
        for record in world.channels.values():
            if record["name"] == channel[1:]:
                return record["id"]
        raise SlackError("channel_not_found")
    if channel in world.users and channel not in world.channels:
        return dm_channel(world, caller.user_id, channel)
    world.channel(channel)
    return channel


def dm_channel(world: World, bot_user_id: str, user_id: str) -> str:
    """Return (creating on first use) the id of the DM channel between the bot and a user."""
    channel_id = "D" + user_id.lstrip("UW")[:10]
    if channel_id not in world.channels:
        world.add_channel(channel_id, user_id, members=[bot_user_id, user_id])
        world.channels[channel_id]["is_im"] = True
    return channel_id


def compose_bot_message(world: World, caller: Caller, args: dict[str, Any], ts: str) -> Message:
    """Build the stored message for a chat.postMessage call made with ``caller``'s token."""
    message: Message = {"user": caller.user_id, "type": "message", "ts": ts}
    if caller.bot_id:
        message.update(bot_id=caller.bot_id, app_id=world.app_id)
    message["text"] = str(args.get("text") or "")
    message["team"] = caller.team_id
    if caller.bot_id and caller.bot_id in world.bots:
        bot = world.bots[caller.bot_id]
        message["bot_profile"] = {
            "id": bot["id"],
            "deleted": False,
            "name": bot["name"],
            "updated": bot["updated"],
            "app_id": world.app_id,
            "icons": dict(bot["icons"]),
            "team_id": caller.team_id,
        }
    if len(message["text"]) > MAX_TEXT:
        raise SlackError("msg_too_long")
    if args.get("blocks") not in (None, "", []):
        message["blocks"] = blocks_with_ids(args["blocks"])
        check_block_limits(message["blocks"])
    if args.get("attachments") not in (None, "", []):
        attachments = structured(args["attachments"], "invalid_attachments")
        if not isinstance(attachments, list):
            raise SlackError("invalid_attachments")
        message["attachments"] = [
            {"id": index, **attachment} for index, attachment in enumerate(attachments, 1)
        ]
    if args.get("metadata") not in (None, ""):
        message["metadata"] = metadata_value(args["metadata"])
    if args.get("username"):
        message["username"] = str(args["username"])
    if args.get("icon_emoji"):
        message["icons"] = {"emoji": str(args["icon_emoji"])}
    return message


#: Slack's published limits on a message (api.slack.com/reference/block-kit): its ``text``,
#: its number of blocks, a section's text, a context's elements, any block's text object.
MAX_TEXT = 40_000
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_CONTEXT_ELEMENTS = 10


def check_block_limits(blocks: list[dict[str, Any]]) -> None:
    """Refuse blocks over Slack's limits with ``invalid_blocks`` and Slack's pointer to the
    offending field (``response_metadata.messages``), as Slack does: it never truncates them."""
    problems = []
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"[ERROR] no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]")
    for n, block in enumerate(blocks):
        texts = [("text", block.get("text"))] if block.get("type") == "section" else []
        if block.get("type") == "context":
            elements = block.get("elements") or []
            if len(elements) > MAX_CONTEXT_ELEMENTS:
                problems.append(
                    f"[ERROR] no more than {MAX_CONTEXT_ELEMENTS} items allowed "
                    f"[json-pointer:/blocks/{n}/elements]"
                )
            texts += [(f"elements/{i}", e) for i, e in enumerate(elements)]
        for where, text in texts:
            value = text.get("text") if isinstance(text, dict) else None
            if isinstance(value, str) and len(value) > MAX_SECTION_TEXT:
                problems.append(
                    f"[ERROR] must be less than {MAX_SECTION_TEXT + 1} characters "
                    f"[json-pointer:/blocks/{n}/{where}/text]"
                )
    if problems:
        raise SlackError("invalid_blocks", extra={"response_metadata": {"messages": problems}})


def _require_content(args: dict[str, Any]) -> None:
    if all(args.get(name) in (None, "", []) for name in ("text", "blocks", "attachments")):
        raise SlackError("no_text")


def post_message(world: World, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    """chat.postMessage: store a bot message (thread reply / broadcast / metadata aware)."""
    channel_id = resolve_channel(world, caller, args.get("channel"))
    world.require_member(channel_id, caller.user_id)
    _require_content(args)
    message = compose_bot_message(world, caller, args, world.next_ts())
    if args.get("thread_ts"):
        message["thread_ts"] = world.thread_root(channel_id, str(args["thread_ts"]))
        if flag(args.get("reply_broadcast")):
            message["subtype"] = "thread_broadcast"
    world.store(channel_id, message)
    return {
        "channel": channel_id,
        "ts": message["ts"],
        "message": world.render(channel_id, message),
    }


def _own_message(world: World, caller: Caller, channel_id: str, ts: Any, error: str) -> Message:
    stored = world.message(channel_id, ts)
    if stored.get("user") != caller.user_id:
        raise SlackError(error)
    return stored


def update_message(world: World, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    """chat.update: edit a message the caller posted; omitted blocks/attachments are kept."""
    channel_id = resolve_channel(world, caller, args.get("channel"))
    stored = _own_message(world, caller, channel_id, args.get("ts"), "cant_update_message")
    if all(args.get(n) in (None, "") for n in ("text", "blocks", "attachments", "metadata")):
        raise SlackError("no_text")
    changes = compose_bot_message(world, caller, args, stored["ts"])
    if "text" in args:
        stored["text"] = changes["text"]
    for name in ("blocks", "attachments"):
        if args.get(name) == []:
            stored.pop(name, None)
        elif name in changes:
            stored[name] = changes[name]
    if "metadata" in changes:
        stored["metadata"] = changes["metadata"]
    stored["edited"] = {"user": caller.bot_id or caller.user_id, "ts": world.next_ts()}
    return {
        "channel": channel_id,
        "ts": stored["ts"],
        "text": stored.get("text", ""),
        "message": world.render(channel_id, stored),
    }


def delete_message(world: World, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    """chat.delete: delete a message the caller posted."""
    channel_id = resolve_channel(world, caller, args.get("channel"))
    stored = _own_message(world, caller, channel_id, args.get("ts"), "cant_delete_message")
    world.remove(channel_id, stored["ts"])
    return {"channel": channel_id, "ts": stored["ts"]}


def post_ephemeral(world: World, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    """chat.postEphemeral: record a message only ``user`` would see (``user`` = recipient)."""
    channel_id = resolve_channel(world, caller, args.get("channel"))
    user_id = str(args.get("user") or "")
    if user_id not in world.users or not world.is_member(channel_id, user_id):
        raise SlackError("user_not_in_channel")
    _require_content(args)
    message = compose_bot_message(world, caller, args, world.next_ts())
    message.update(channel=channel_id, user=user_id)
    if args.get("thread_ts"):
        message["thread_ts"] = str(args["thread_ts"])
    world.ephemerals.append(message)
    return {"message_ts": message["ts"]}


def permalink_for(world: World, channel_id: str, message: Message) -> str:
    """Return the permalink of a stored message (thread replies carry thread_ts and cid)."""
    link = f"{world.base_url}/archives/{channel_id}/p{message['ts'].replace('.', '')}"
    thread_ts = message.get("thread_ts")
    if thread_ts and thread_ts != message["ts"]:
        link += f"?thread_ts={thread_ts}&cid={channel_id}"
    return link


def get_permalink(world: World, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    """chat.getPermalink."""
    channel_id = resolve_channel(world, caller, args.get("channel"))
    message = world.message(channel_id, args.get("message_ts"))
    return {"channel": channel_id, "permalink": permalink_for(world, channel_id, message)}


def _reaction_target(world: World, caller: Caller, args: dict[str, Any]) -> tuple[str, Message]:
    if not args.get("channel") or not args.get("timestamp"):
        raise SlackError("no_item_specified")
    channel_id = resolve_channel(world, caller, args["channel"])
    return channel_id, world.message(channel_id, args["timestamp"])


def react(world: World, message: Message, name: str, user_id: str) -> None:
    """Add ``user_id``'s ``name`` reaction to a stored message (``already_reacted`` if present)."""
    # A name is an emoji's name, optionally with a skin tone as Slack sends it (+1::skin-tone-3).
    if not name or " " in name or ":" in re.sub(r"::skin-tone-[2-6]$", "", name):
        raise SlackError("invalid_name")
    reactions = message.setdefault("reactions", [])
    for reaction in reactions:
        if reaction["name"] == name:
            if user_id in reaction["users"]:
                raise SlackError("already_reacted")
            reaction["users"].append(user_id)
            reaction["count"] = len(reaction["users"])
            return
    reactions.append({"name": name, "users": [user_id], "count": 1})


def unreact(message: Message, name: str, user_id: str) -> None:
    """Remove ``user_id``'s ``name`` reaction (``no_reaction`` when absent)."""
    for reaction in message.get("reactions", []):
        if reaction["name"] == name and user_id in reaction["users"]:
            reaction["users"].remove(user_id)
            reaction["count"] = len(reaction["users"])
            if not reaction["users"]:
                message["reactions"].remove(reaction)
            if not message["reactions"]:
                del message["reactions"]
            return
    raise SlackError("no_reaction")


def reactions_add(world: World, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    """reactions.add."""
    _, message = _reaction_target(world, caller, args)
    react(world, message, str(args.get("name") or ""), caller.user_id)
    return {}


def reactions_remove(world: World, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    """reactions.remove."""
    _, message = _reaction_target(world, caller, args)
    unreact(message, str(args.get("name") or ""), caller.user_id)
    return {}


def reactions_get(world: World, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    """reactions.get: the message with its reactions."""
    channel_id, message = _reaction_target(world, caller, args)
    shown = world.render(channel_id, message)
    shown["permalink"] = permalink_for(world, channel_id, message)
    return {"type": "message", "channel": channel_id, "message": shown}


def apply_response_url(world: World, name: str, payload: dict[str, Any]) -> None:
    """Record a POST to a response_url and apply it like Slack (replace/delete/in_channel).

    Only response URLs created with a ``channel`` (and ``message_ts`` for replace/delete)
    change messages; the others are just recorded.
    """
    world.response_posts.append({"name": name, "body": copy.deepcopy(payload), "at": time.time()})
    target = world.response_targets.get(name)
    if not target or not target.get("channel"):
        return
    caller = world.tokens[target["token"]]
    channel_id, message_ts = target["channel"], target.get("message_ts")
    if message_ts and flag(payload.get("delete_original")):
        world.remove(channel_id, message_ts)
    elif message_ts and flag(payload.get("replace_original")):
        stored = world.message(channel_id, message_ts)
        changes = compose_bot_message(world, caller, payload, message_ts)
        for key in ("text", "blocks", "attachments"):
            if key in changes:
                stored[key] = changes[key]
            elif key != "text":
                stored.pop(key, None)
        stored["edited"] = {"user": caller.bot_id or caller.user_id, "ts": world.next_ts()}
    elif payload.get("response_type") == "in_channel":
        args = {**payload, "channel": channel_id}
        args.setdefault("thread_ts", target.get("thread_ts"))
        post_message(world, caller, {k: v for k, v in args.items() if v is not None})
    else:
        message = compose_bot_message(world, caller, payload, world.next_ts())
        message.update(channel=channel_id, user=target.get("user"))
        world.ephemerals.append(message)


CHAT_METHODS: dict[str, Handler] = {
    "chat.postMessage": post_message,
    "chat.update": update_message,
    "chat.delete": delete_message,
    "chat.postEphemeral": post_ephemeral,
    "chat.getPermalink": get_permalink,
    "reactions.add": reactions_add,
    "reactions.remove": reactions_remove,
    "reactions.get": reactions_get,
}
