"""A small page on the emulator for trying the app by hand (`triage sandbox`).

`/_sandbox/page` shows every channel's recent messages (with the app's cards, threads and
reactions) and a form to post as anyone; a post is delivered to the app as the signed
`message` event Slack would send, when the emulator has an `event_url`.
"""

from __future__ import annotations

import html
from typing import Any

from werkzeug.wrappers import Request, Response

from sandbox.slack_emulator import SlackEmulator

PAGE, POST = "/_sandbox/page", "/_sandbox/post"


def install_page(emu: SlackEmulator) -> str:
    """Serve the page from the emulator; returns its URL (once the emulator is started)."""
    emu._api.extra_routes[PAGE] = lambda request: _page(emu)
    emu._api.extra_routes[POST] = lambda request: _post(emu, request)
    return f"{emu.base_url}{PAGE}" if emu._server is not None else PAGE


def _post(emu: SlackEmulator, request: Request) -> Response:
    form = request.form
    channel, user, text = form.get("channel", ""), form.get("user", ""), form.get("text", "")
    if request.method != "POST" or not (channel and user and text.strip()):
        return Response("channel, user and text are required", 400)
    message = emu.post_as_user(channel, user, text, thread_ts=form.get("thread_ts") or None)
    if emu.event_url and emu.signing_secret:
        emu.deliver_event(emu.message_event(channel, message["ts"]))
    return Response("", 303, headers={"Location": PAGE})


def _page(emu: SlackEmulator) -> Response:
    world = emu._world
    with world.lock:
        channels = sorted(world.channels)
        people = {uid: u for uid, u in world.users.items() if not u.get("is_bot")}
    options = "".join(f"<option>{html.escape(c)}</option>" for c in channels)
    users = "".join(
        f"<option value='{html.escape(uid)}'>{html.escape(_name(u))} ({html.escape(uid)})</option>"
        for uid, u in sorted(people.items())
    )
    sections = "".join(_channel(emu, c) for c in channels)
    delivery = (
        f"posts are delivered to {html.escape(emu.event_url)}"
        if emu.event_url
        else "no event URL: posts are stored, not delivered to the app"
    )
    body = f"""<!doctype html><meta charset="utf-8"><title>Slack sandbox</title>
<style>body{{font:14px system-ui;margin:2em;max-width:70em}} .m{{border-left:3px solid #ddd;
padding:.3em .6em;margin:.4em 0;white-space:pre-wrap}} .bot{{border-color:#4a154b}}
.r{{margin-left:2em}} small{{color:#666}}</style>
<h1>Slack sandbox</h1><p><small>{delivery}</small></p>
<form method="post" action="{POST}">Channel <select name="channel">{options}</select>
As <select name="user">{users}</select> In thread (ts) <input name="thread_ts" size="18">
<br><textarea name="text" rows="3" cols="80" placeholder="Hi team, ..."></textarea>
<br><button>Post</button></form>{sections}"""
    return Response(body, 200, content_type="text/html; charset=utf-8")


def _channel(emu: SlackEmulator, channel: str) -> str:
    rows = []
    for message in emu.messages(channel)[-20:]:
        rows.append(_message(emu, message))
        if message.get("reply_count"):
            for reply in emu.messages(channel, thread_ts=message["ts"])[1:]:
                rows.append(f"<div class='r'>{_message(emu, reply)}</div>")
    return f"<h2>#{html.escape(channel)}</h2>" + ("".join(rows) or "<small>no messages</small>")


def _message(emu: SlackEmulator, message: dict[str, Any]) -> str:
    author = html.escape(message.get("user") or message.get("bot_id") or "?")
    text = message.get("text") or ""
    for block in message.get("blocks") or []:
        parts = [(block.get("text") or {}).get("text", "")]
        parts += [
            e.get("text", "")
            if isinstance(e.get("text"), str)
            else (e.get("text") or {}).get("text", "")
            for e in block.get("elements") or []
        ]
        text += "\n" + " ".join(p for p in parts if p)
    reactions = " ".join(f":{r['name']}: {r['count']}" for r in message.get("reactions") or [])
    kind = "m bot" if message.get("bot_id") else "m"
    return (
        f"<div class='{kind}'><b>{author}</b> <small>{html.escape(message['ts'])} "
        f"{html.escape(reactions)}</small>\n{html.escape(text.strip())}</div>"
    )


def _name(user: dict[str, Any]) -> str:
    return str(user.get("real_name") or user.get("name") or user.get("id"))
