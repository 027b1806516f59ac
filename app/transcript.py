"""`demo-transcript.html`: the demo's Slack, as a page that looks like it (SPEC §10).

The customer channels, the internal triage channel and the escalation channel side by side:
messages, threads, reactions, and the app's cards and posts drawn from their Block Kit blocks
(sections, context, the buttons). It is rendered from what the emulator holds at the end of
the demo, so it shows what the app really posted.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox.slack_emulator import SlackEmulator

_EMOJI = {
    "eyes": "👀",
    "white_check_mark": "✅",
    "+1": "👍",
    "-1": "👎",
    "thumbsup": "👍",
    "thumbsdown": "👎",
    "ticket": "🎫",
    "mag": "🔍",
}


def write_transcript(
    emu: SlackEmulator,
    path: Path,
    *,
    customer_channels: list[str],
    triage_channel: str,
    title: str,
    escalation_channel: str | None = None,
) -> Path:
    """Render the channels to `path`, one column each for the customers' channels, the
    triage channel and (when given) the escalation channel; returns it."""
    names = slack_names(emu)
    columns = [
        "".join(_channel(emu, c, names) for c in customer_channels),
        _channel(emu, triage_channel, names),
    ]
    if escalation_channel:
        columns.append(_channel(emu, escalation_channel, names))
    widths = " ".join(["1fr", "1.15fr", "0.85fr"][: len(columns)])
    body = "".join(f"<div>{column}</div>" for column in columns)
    page = f"""<!doctype html><html lang="en"><meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>
body{{margin:0;font:15px/1.45 -apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 color:#1d1c1d;background:#f8f8f8}}
header{{background:#3f0e40;color:#fff;padding:12px 20px;font-weight:700}}
main{{display:grid;grid-template-columns:{widths};gap:16px;padding:16px;
 align-items:start}}
section.channel{{background:#fff;border:1px solid #ddd;border-radius:8px;margin-bottom:16px}}
section.channel h2{{margin:0;padding:10px 14px;border-bottom:1px solid #eee;font-size:16px}}
.shared{{color:#1264a3;font-weight:400;font-size:12px;margin-left:6px}}
.msg{{padding:8px 14px;display:flex;gap:10px}}
.avatar{{width:34px;height:34px;border-radius:6px;background:#e8912d;color:#fff;flex:none;
 display:flex;align-items:center;justify-content:center;font-weight:700}}
.bot .avatar{{background:#4a154b}}
.who{{font-weight:700}} .when{{color:#616061;font-size:12px;margin-left:6px}}
.text{{white-space:pre-wrap;word-wrap:break-word}}
.thread{{margin-left:44px;border-left:3px solid #e0e0e0}}
.reactions span{{display:inline-block;border:1px solid #d0d0d0;border-radius:12px;
 padding:0 8px;margin:4px 4px 0 0;font-size:13px;background:#f6f6f6}}
.card{{border:1px solid #ddd;border-left:4px solid #4a154b;border-radius:4px;padding:6px 10px;
 margin-top:4px}}
.block{{margin:4px 0}} .context{{color:#616061;font-size:13px}}
blockquote{{border-left:3px solid #ddd;margin:4px 0;padding-left:8px;color:#333}}
.buttons button{{border:1px solid #bbb;background:#fff;border-radius:4px;padding:4px 10px;
 margin:4px 6px 0 0;font-weight:600}}
.buttons .primary{{background:#007a5a;color:#fff;border-color:#007a5a}}
.buttons .danger{{color:#e01e5a;border-color:#e01e5a}}
hr{{border:0;border-top:1px solid #eee}}
code{{background:#f2f2f2;padding:0 3px;border-radius:3px}}
</style>
<header>{html.escape(title)}</header>
<main>{body}</main></html>"""
    path.write_text(page, encoding="utf-8")
    return path


def slack_names(emu: SlackEmulator) -> dict[str, str]:
    """Display names of the emulator's people and channels, by id."""
    world = emu._world
    with world.lock:
        names = {
            uid: str(u.get("real_name") or u.get("name") or uid) for uid, u in world.users.items()
        }
        names.update({cid: str(c.get("name") or cid) for cid, c in world.channels.items()})
    return names


def _channel(emu: SlackEmulator, channel: str, names: dict[str, str]) -> str:
    shared = emu._world.channels.get(channel, {}).get("is_ext_shared")
    badge = "<span class='shared'>Slack Connect</span>" if shared else ""
    rows = []
    for message in emu.messages(channel):
        rows.append(_message(message, names))
        if message.get("reply_count"):
            replies = emu.messages(channel, thread_ts=message["ts"])[1:]
            rows.append(
                "<div class='thread'>" + "".join(_message(r, names) for r in replies) + "</div>"
            )
    body = "".join(rows) or "<div class='msg'><i>no messages</i></div>"
    return (
        f"<section class='channel' id='{html.escape(channel)}'><h2>"
        f"#{html.escape(names.get(channel, channel))}{badge}</h2>{body}</section>"
    )


def _message(message: dict[str, Any], names: dict[str, str]) -> str:
    bot = bool(message.get("bot_id"))
    who = "Support Triage (app)" if bot else names.get(message.get("user", ""), "someone")
    when = datetime.fromtimestamp(float(message["ts"]), UTC).strftime("%H:%M")
    # People's rich_text blocks say what `text` says; the app's cards are drawn from blocks.
    content = (
        _blocks(message["blocks"], names)
        if bot and message.get("blocks")
        else (f"<div class='text'>{mrkdwn(message.get('text', ''), names)}</div>")
    )
    reactions = "".join(
        f"<span>{_EMOJI.get(r['name'].split('::')[0], ':' + html.escape(r['name']) + ':')}"
        f" {r['count']}</span>"
        for r in message.get("reactions") or []
    )
    return (
        f"<div class='msg{' bot' if bot else ''}'><div class='avatar'>"
        f"{html.escape(who[:1])}</div><div><span class='who'>{html.escape(who)}</span>"
        f"<span class='when'>{when}</span>{content}"
        f"<div class='reactions'>{reactions}</div></div></div>"
    )


def _blocks(blocks: list[dict[str, Any]], names: dict[str, str]) -> str:
    parts = []
    for block in blocks:
        kind = block.get("type")
        if kind in ("section", "header"):
            text = (block.get("text") or {}).get("text", "")
            parts.append(f"<div class='block text'>{mrkdwn(text, names)}</div>")
        elif kind == "context":
            text = " ".join(
                e.get("text", "")
                for e in block.get("elements", [])
                if isinstance(e.get("text"), str)
            )
            parts.append(f"<div class='block context'>{mrkdwn(text, names)}</div>")
        elif kind == "divider":
            parts.append("<hr>")
        elif kind == "actions":
            buttons = "".join(
                f"<button class='{html.escape(e.get('style', ''))}'>"
                f"{html.escape((e.get('text') or {}).get('text', ''))}</button>"
                for e in block.get("elements", [])
            )
            parts.append(f"<div class='block buttons'>{buttons}</div>")
    return "<div class='card'>" + "".join(parts) + "</div>"


def mrkdwn(text: str, names: dict[str, str]) -> str:
    """Slack mrkdwn as HTML: mentions, links, bold, italics, code, quotes."""
    out = html.escape(text, quote=False)
    out = re.sub(
        r"&lt;@([A-Z0-9]+)(?:\|[^&]*)?&gt;",
        lambda m: f"<b>@{html.escape(names.get(m.group(1), m.group(1)))}</b>",
        out,
    )
    out = re.sub(
        r"&lt;#([A-Z0-9]+)(?:\|[^&]*)?&gt;",
        lambda m: f"<b>#{html.escape(names.get(m.group(1), m.group(1)))}</b>",
        out,
    )
    # <!date^…^format|fallback>: Slack shows it in the reader's zone; the page shows the fallback.
    out = re.sub(r"&lt;!date\^[^|&]*\|([^&]+)&gt;", r"\1", out)
    out = re.sub(r"&lt;(https?://[^|&]+)\|([^&]+)&gt;", r"<a href='\1'>\2</a>", out)
    out = re.sub(r"&lt;(https?://[^&]+)&gt;", r"<a href='\1'>\1</a>", out)
    out = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"<b>\1</b>", out)
    out = re.sub(r"(?<![\w_])_([^_\n]+)_(?![\w_])", r"<i>\1</i>", out)
    out = re.sub(r"`([^`\n]+)`", r"<code>\1</code>", out)
    lines = out.split("\n")
    return "\n".join(
        f"<blockquote>{line[4:]}</blockquote>" if line.startswith("&gt;") else line
        for line in lines
    )
