"""The HTML of the sandbox page (``sandbox.slack_page`` serves it and acts on its forms).

Channels by name (customers' Slack Connect channels first, then the org's own), each with its
recent messages, threads, reactions, the ephemeral messages the app showed someone, and the
app's cards drawn from their blocks with buttons that send a click to the app. Above them:
the modals the app opened, the form to post as anyone, and who clicks the buttons.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from sandbox.slack_emulator import SlackEmulator
from sandbox.slack_html import EMOJI, blocks_html, element_html, mrkdwn, view_html
from sandbox.slack_state import World

PAGE, POST, CLICK, SUBMIT, CLOSE = (
    "/_sandbox/page",
    "/_sandbox/post",
    "/_sandbox/click",
    "/_sandbox/submit",
    "/_sandbox/close",
)
RECENT = 20  # top-level messages shown per channel


@dataclass(frozen=True)
class Choice:
    """What the page's forms have selected; carried in the query string across actions."""

    channel: str
    user: str
    clicker: str  # who clicks the cards' buttons (an approver of the org)
    thread_ts: str = ""

    def url(self, anchor: str = "", **changes: str) -> str:
        """The page's URL with this choice (and ``changes``)."""
        chosen = replace(self, **changes)
        query = {"channel": chosen.channel, "user": chosen.user, "as": chosen.clicker}
        if chosen.thread_ts:
            query["thread_ts"] = chosen.thread_ts
        return f"{PAGE}?{urlencode(query)}" + (f"#{anchor}" if anchor else "")


@dataclass
class Modal:
    """A modal the app opened and the page shows until it is submitted or closed."""

    view: dict[str, Any]
    user: str  # who clicked the button that opened it (empty: not opened from the page)
    typed: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def names_of(world: World) -> dict[str, str]:
    """Display names by id: people, the app's bots and channels."""
    names = {uid: str(u.get("real_name") or u.get("name") or uid) for uid, u in world.users.items()}
    names.update({bid: str(b.get("name") or bid) for bid, b in world.bots.items()})
    names.update({cid: str(c.get("name") or cid) for cid, c in world.channels.items()})
    return names


def _people(world: World) -> list[str]:
    return [u for u, r in world.users.items() if not r.get("is_bot") and not r.get("deleted")]


def _customers(world: World, channel: str) -> list[str]:
    """People of another organisation than the app's who are in ``channel``."""
    return [
        u
        for u in _people(world)
        if world.team_of(u) != world.host_team_id and world.is_member(channel, u)
    ]


def ordered_channels(world: World) -> list[str]:
    """Customers' shared channels first, then the org's own; by name within each."""
    return sorted(
        world.channels,
        key=lambda c: (not world.channels[c]["is_ext_shared"], world.channels[c]["name"]),
    )


def shared_with(world: World, channel: str) -> str:
    """ "shared with Globex" for a Slack Connect channel, else ""."""
    record = world.channels[channel]
    if not record["is_ext_shared"]:
        return ""
    others = [
        str(world.teams.get(t, {}).get("name") or t)
        for t in record["connected_team_ids"]
        if t != world.host_team_id
    ]
    return "shared with " + (", ".join(others) or "another organisation")


def default_choice(world: World, args: Any) -> Choice:
    """The query's choice where valid; else the first shared channel with a customer in it,
    that customer, and the first person of the org as the one who clicks."""
    with world.lock:
        people = _people(world)
        channels = ordered_channels(world)
        channel = args.get("channel", "")
        if channel not in world.channels:
            with_customer = [c for c in channels if _customers(world, c)]
            channel = (with_customer or channels or [""])[0]
        user = args.get("user", "")
        if user not in people:
            in_channel = [u for u in people if channel and world.is_member(channel, u)]
            user = (
                (_customers(world, channel) if channel else []) or in_channel or people or [""]
            )[0]
        clicker = args.get("as", "")
        if clicker not in people:
            ours = [u for u in people if world.team_of(u) == world.host_team_id]
            clicker = (ours or people or [""])[0]
    return Choice(channel, user, clicker, args.get("thread_ts", ""))


def page_html(
    emu: SlackEmulator, choice: Choice, modals: list[Modal], notice: str, delivery: str
) -> str:
    """The whole page."""
    world = emu._world
    with world.lock:
        names = names_of(world)
        channels = ordered_channels(world)
        shared = {c: shared_with(world, c) for c in channels}
        teams = {u: str(world.teams.get(world.team_of(u), {}).get("name") or "") for u in names}
        people = _people(world)
        ours = [u for u in people if world.team_of(u) == world.host_team_id]
    e = html.escape
    options = "".join(
        _option(c, f"#{names[c]}" + (f" ({shared[c]})" if shared[c] else ""), choice.channel)
        for c in channels
    )
    by_team: dict[str, list[str]] = {}
    for u in people:
        by_team.setdefault(teams[u], []).append(u)
    authors = "".join(
        f"<optgroup label='{e(team)}'>"
        + "".join(_option(u, names[u], choice.user) for u in members)
        + "</optgroup>"
        for team, members in by_team.items()
    )
    clickers = "".join(_option(u, names[u], choice.clicker) for u in ours)
    thread = (
        f"<span class='thread-note'>replying in the thread of {e(choice.thread_ts)} "
        f"<a href='{e(choice.url(thread_ts=''))}'>(post in the channel instead)</a></span>"
        f"<input type='hidden' name='thread_ts' value='{e(choice.thread_ts)}'>"
        if choice.thread_ts
        else ""
    )
    live = "" if notice else " (the page reloads itself while you are not typing)"
    columns = [
        "".join(_channel(emu, c, names, shared[c], choice) for c in channels if shared[c]),
        "".join(_channel(emu, c, names, shared[c], choice) for c in channels if not shared[c]),
    ]
    return f"""<!doctype html><html lang="en"><meta charset="utf-8"><title>Slack sandbox</title>
<style>{_STYLE}</style>
<header>Slack sandbox <small>{e(delivery)} · <a href="/_sandbox/messages">all messages as JSON</a>
</small></header>
{f"<div class='notice'>{e(notice)}</div>" if notice else ""}
{"".join(_modal(m, names, choice) for m in modals)}
<form class="post" method="post" action="{POST}" id="post">
<label>Channel <select name="channel">{options}</select></label>
<label>Post as <select name="user">{authors}</select></label> {thread}
<input type="hidden" name="as" value="{e(choice.clicker)}">
<textarea name="text" rows="3" placeholder="Hi team, can we add five seats to our plan?"></textarea>
<button class="primary">Post</button></form>
<form class="as" method="get" action="{PAGE}"><input type="hidden" name="channel"
 value="{e(choice.channel)}"><input type="hidden" name="user" value="{e(choice.user)}">
<label>Buttons on cards are clicked by <select name="as" onchange="this.form.submit()">
{clickers}</select></label> <noscript><button>Switch</button></noscript>
<a href="{e(choice.url())}">reload</a>{live}</form>
<main>{"".join(f"<div>{c}</div>" for c in columns)}</main>
{"" if notice else _RELOAD}</html>"""


def _option(value: str, label: str, selected: str) -> str:
    chosen = " selected" if value == selected else ""
    return f"<option value='{html.escape(value)}'{chosen}>{html.escape(label)}</option>"


def _channel(
    emu: SlackEmulator, channel: str, names: dict[str, str], shared: str, choice: Choice
) -> str:
    rows = []
    for message in emu.messages(channel)[-RECENT:]:
        rows.append(_message(message, channel, names, choice, top=True))
        if message.get("reply_count"):
            replies = emu.messages(channel, thread_ts=message["ts"])[1:]
            rows.append(
                "<div class='thread'>"
                + "".join(_message(r, channel, names, choice, top=False) for r in replies)
                + "</div>"
            )
    for ephemeral in emu.ephemerals(channel):
        to = names.get(str(ephemeral.get("user")), str(ephemeral.get("user")))
        rows.append(
            f"<div class='ephemeral'><small>Only visible to {html.escape(to)}</small>"
            f"{_content(ephemeral, names, None)}</div>"
        )
    badge = f"<span class='shared'>{html.escape(shared)}</span>" if shared else ""
    return (
        f"<section class='channel' id='{html.escape(channel)}'><h2>"
        f"#{html.escape(names.get(channel, channel))} {badge}"
        f"<small class='id'>{html.escape(channel)}</small></h2>"
        + ("".join(rows) or "<div class='msg'><i>no messages yet</i></div>")
        + "</section>"
    )


def _message(
    message: dict[str, Any], channel: str, names: dict[str, str], choice: Choice, *, top: bool
) -> str:
    bot = bool(message.get("bot_id"))
    who = names.get(str(message.get("user") if not bot else message.get("bot_id")), "someone")
    ts = str(message["ts"])
    when = datetime.fromtimestamp(float(ts)).strftime("%H:%M:%S")
    edited = " (edited)" if message.get("edited") else ""
    reply = (
        f" <a href='{html.escape(choice.url('post', channel=channel, thread_ts=ts))}'>reply</a>"
        if top
        else ""
    )

    def button(block_id: str, element: dict[str, Any]) -> str:
        return _button(channel, ts, block_id, element, choice)

    reactions = "".join(
        f"<span>{EMOJI.get(r['name'].split('::')[0], ':' + html.escape(r['name']) + ':')}"
        f" {int(r['count'])}</span>"
        for r in message.get("reactions") or []
    )
    return (
        f"<div class='msg{' bot' if bot else ''}' id='m{html.escape(ts)}'><div class='avatar'>"
        f"{html.escape(who[:1])}</div><div class='body'><span class='who'>{html.escape(who)}</span>"
        f"{' <span class=app>APP</span>' if bot else ''}<span class='when'>{when}{edited} · "
        f"<small class='id'>{html.escape(ts)}</small>{reply}</span>"
        f"{_content(message, names, button)}<div class='reactions'>{reactions}</div></div></div>"
    )


def _content(message: dict[str, Any], names: dict[str, str], button: Any) -> str:
    """Blocks when it has some besides rich_text (the emulator's rich_text repeats `text`)."""
    blocks = [b for b in message.get("blocks") or [] if b.get("type") != "rich_text"]
    drawn = (
        f"<div class='card'>{blocks_html(blocks, names, button)}</div>"
        if blocks
        else f"<div class='text'>{mrkdwn(str(message.get('text') or ''), names)}</div>"
    )
    files = "".join(
        f"<div class='context'>📎 {html.escape(str(f.get('name') or f.get('title') or 'file'))}"
        "</div>"
        for f in message.get("files") or []
    )
    return drawn + files


def _button(channel: str, ts: str, block_id: str, element: dict[str, Any], choice: Choice) -> str:
    """A button that sends the click to the app (other elements stay inert)."""
    if element.get("type") != "button":
        return element_html(block_id, element, None)
    fields = {
        "channel": channel,
        "ts": ts,
        "block_id": block_id,
        "action_id": str(element.get("action_id") or ""),
        "back": choice.url(f"m{ts}"),
        "as": choice.clicker,
    }
    hidden = "".join(
        f"<input type='hidden' name='{k}' value='{html.escape(v)}'>" for k, v in fields.items()
    )
    label = html.escape(str((element.get("text") or {}).get("text") or ""))
    style = html.escape(str(element.get("style") or ""))
    return (
        f"<form class='inline' method='post' action='{CLICK}'>{hidden}"
        f"<button class='{style}'>{label}</button></form>"
    )


def _modal(modal: Modal, names: dict[str, str], choice: Choice) -> str:
    view = modal.view
    e = html.escape
    title = e(str((view.get("title") or {}).get("text") or "Modal"))
    submit = (view.get("submit") or {}).get("text")
    close = e(str((view.get("close") or {}).get("text") or "Close"))
    hidden = (
        f"<input type='hidden' name='view_id' value='{e(str(view['id']))}'>"
        f"<input type='hidden' name='back' value='{e(choice.url())}'>"
        f"<input type='hidden' name='as' value='{e(modal.user or choice.clicker)}'>"
    )
    opened_by = f" <small>for {e(names.get(modal.user, modal.user))}</small>" if modal.user else ""
    submit_button = f"<button class='primary'>{e(str(submit))}</button>" if submit else ""
    return (
        f"<div class='modal'><h3>{title}{opened_by}</h3><form method='post' action='{SUBMIT}'>"
        f"{hidden}{view_html(view, names, typed=modal.typed, errors=modal.errors)}"
        f"{submit_button}</form><form method='post' action='{CLOSE}'>{hidden}"
        f"<button>{close}</button></form></div>"
    )


# Reloads the page every 4 s unless someone is typing or a modal is open. Not on a page with a
# notice: that page answers a POST, which a reload would send again.
_RELOAD = """<script>setInterval(function(){var a=document.activeElement,t=document.querySelector(
"textarea[name=text]");if(document.querySelector(".modal")||(t&&t.value)||(a&&/INPUT|SELECT|TEXTAREA/
.test(a.tagName)))return;location.reload()},4000)</script>"""

_STYLE = """
body{margin:0;font:14px/1.45 -apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 color:#1d1c1d;background:#f8f8f8}
header{background:#3f0e40;color:#fff;padding:10px 20px;font-weight:700;font-size:16px}
header small{font-weight:400;font-size:12px;opacity:.85;margin-left:8px}
header a{color:#fff}
.notice{background:#fde8e8;border:1px solid #e01e5a;color:#7a0b2e;margin:12px 16px;
 padding:10px 14px;border-radius:6px;white-space:pre-wrap}
form.post,form.as{margin:12px 16px} form.as{color:#616061;font-size:13px}
form.post textarea{display:block;width:100%;max-width:60em;margin:6px 0;font:inherit}
form.post label{margin-right:12px}
.thread-note{color:#1264a3}
main{display:grid;grid-template-columns:1fr 1fr;gap:16px;padding:0 16px 16px;
 align-items:start}
section.channel{background:#fff;border:1px solid #ddd;border-radius:8px;margin-bottom:16px}
section.channel h2{margin:0;padding:8px 14px;border-bottom:1px solid #eee;font-size:15px}
.shared{color:#1264a3;font-weight:400;font-size:12px}
small.id,.id{color:#999;font-weight:400;font-size:11px;margin-left:6px}
.msg{padding:6px 14px;display:flex;gap:10px}
.body{min-width:0;flex:1}
.avatar{width:30px;height:30px;border-radius:6px;background:#e8912d;color:#fff;flex:none;
 display:flex;align-items:center;justify-content:center;font-weight:700}
.bot .avatar{background:#4a154b}
.who{font-weight:700} .when{color:#616061;font-size:12px;margin-left:6px}
.app{background:#eee;color:#616061;font-size:10px;padding:0 3px;border-radius:3px;margin-left:4px}
.text{white-space:pre-wrap;word-wrap:break-word}
.thread{margin-left:40px;border-left:3px solid #e0e0e0}
.ephemeral{margin:4px 14px;padding:4px 8px;background:#f4f4f4;border-radius:4px}
.reactions span{display:inline-block;border:1px solid #d0d0d0;border-radius:12px;
 padding:0 8px;margin:4px 4px 0 0;font-size:12px;background:#f6f6f6}
.card{border-left:4px solid #4a154b;padding:2px 10px;margin-top:4px}
.block{margin:4px 0} .context{color:#616061;font-size:12px}
.header{font-weight:700;font-size:16px}
.fields{display:grid;grid-template-columns:1fr 1fr;gap:4px}
blockquote{border-left:3px solid #ddd;margin:2px 0;padding-left:8px;color:#333}
.mention{background:#e8f5fa;color:#1264a3;border-radius:3px;padding:0 2px}
form.inline{display:inline}
button,a.button{border:1px solid #bbb;background:#fff;border-radius:4px;padding:3px 10px;
 margin:4px 6px 0 0;font:inherit;font-weight:600;cursor:pointer;color:#1d1c1d;
 text-decoration:none}
button.primary{background:#007a5a;color:#fff;border-color:#007a5a}
button.danger{color:#e01e5a;border-color:#e01e5a}
hr{border:0;border-top:1px solid #eee}
code{background:#f2f2f2;padding:0 3px;border-radius:3px}
pre{background:#f2f2f2;padding:6px;border-radius:4px;white-space:pre-wrap}
.modal{margin:12px 16px;padding:10px 16px;background:#fff;border:2px solid #4a154b;
 border-radius:8px;max-width:40em;box-shadow:0 4px 12px rgba(0,0,0,.15)}
.modal h3{margin:0 0 6px} .modal form{display:inline}
.input{display:block;margin:8px 0} .input b{display:block}
.input textarea,.input input{width:100%;font:inherit}
.input small{display:block;color:#616061} .error{display:block;color:#e01e5a}
.inert{color:#999}
"""
