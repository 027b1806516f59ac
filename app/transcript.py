"""The demo's Slack, as a page that looks like it (`demo-transcript.html`) and in a terminal.

The page: the customer channels, the internal triage channel and the escalation channel side
by side: messages, threads, reactions, and the app's cards and posts drawn from their Block Kit
blocks (sections, context, the buttons). It is rendered from what the emulator holds at the
end of the demo, so it shows what the app really posted; the demo's own explanations are
dashed notes, never mistaken for Slack messages. Every time on it is UTC, as in the terminal.

The terminal: the same mrkdwn as rich text (bold, italics, a bar for quotes, links by their
label), printed with a margin that every wrapped line keeps.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.segment import Segment, Segments
from rich.text import Text

from sandbox.slack_emulator import SlackEmulator
from sandbox.slack_html import EMOJI, mrkdwn, slack_unescape

_MENTION = "<b>{}</b>"  # the page shows a mention in bold


def write_transcript(
    emu: SlackEmulator,
    path: Path,
    *,
    customer_channels: list[str],
    triage_channel: str,
    title: str,
    escalation_channel: str | None = None,
    intro: str = "",
    notes: Mapping[tuple[str, str], str] | None = None,
) -> Path:
    """Render the channels to `path`, one column each for the customers' channels, the
    triage channel and (when given) the escalation channel; returns it. `intro` is a line
    under the title; `notes` are the demo's explanations, by (channel, message ts)."""
    draw = _Page(slack_names(emu), notes or {})
    columns = [
        "".join(draw.channel(emu, c) for c in customer_channels),
        draw.channel(emu, triage_channel),
    ]
    if escalation_channel:
        columns.append(draw.channel(emu, escalation_channel))
    widths = " ".join(["1fr", "1.15fr", "0.85fr"][: len(columns)])
    body = "".join(f"<div>{column}</div>" for column in columns)
    page = f"""<!doctype html><html lang="en"><meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>
body{{margin:0;font:15px/1.45 -apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 color:#1d1c1d;background:#f8f8f8}}
header{{background:#3f0e40;color:#fff;padding:12px 20px;font-weight:700}}
p.intro{{margin:12px 16px 0;color:#454245;font-size:14px}}
.note{{border:1px dashed #b8a47a;background:#fffbea;color:#454245;font-size:13px;
 padding:4px 8px;margin-top:6px;border-radius:4px}}
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
{f"<p class='intro'>{html.escape(intro)}</p>" if intro else ""}
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


class _Page:
    """The page's channels and messages, with the people's names and the demo's notes."""

    def __init__(self, names: dict[str, str], notes: Mapping[tuple[str, str], str]) -> None:
        self.names, self.notes = names, notes

    def channel(self, emu: SlackEmulator, channel: str) -> str:
        shared = emu._world.channels.get(channel, {}).get("is_ext_shared")
        badge = "<span class='shared'>Slack Connect</span>" if shared else ""
        rows = []
        for message in emu.messages(channel):
            rows.append(self.message(channel, message))
            if message.get("reply_count"):
                replies = emu.messages(channel, thread_ts=message["ts"])[1:]
                rows.append(
                    "<div class='thread'>"
                    + "".join(self.message(channel, r) for r in replies)
                    + "</div>"
                )
        body = "".join(rows) or "<div class='msg'><i>no messages</i></div>"
        return (
            f"<section class='channel' id='{html.escape(channel)}'><h2>"
            f"#{html.escape(self.names.get(channel, channel))}{badge}</h2>{body}</section>"
        )

    def message(self, channel: str, message: dict[str, Any]) -> str:
        bot = bool(message.get("bot_id"))
        names = self.names
        who = "Support Triage (app)" if bot else names.get(message.get("user", ""), "someone")
        when = clock(float(message["ts"]))
        # People's rich_text blocks say what `text` says; the app's cards are drawn from blocks.
        content = (
            _blocks(message["blocks"], names)
            if bot and message.get("blocks")
            else (f"<div class='text'>{_mrkdwn(message.get('text', ''), names)}</div>")
        )
        reactions = "".join(
            f"<span>{EMOJI.get(r['name'].split('::')[0], ':' + html.escape(r['name']) + ':')}"
            f" {r['count']}</span>"
            for r in message.get("reactions") or []
        )
        note = self.notes.get((channel, message["ts"]))
        if note:
            content += f"<div class='note'><b>Demo note:</b> {html.escape(note)}</div>"
        return (
            f"<div class='msg{' bot' if bot else ''}'><div class='avatar'>"
            f"{html.escape(who[:1])}</div><div><span class='who'>{html.escape(who)}</span>"
            f"<span class='when'>{when}</span>{content}"
            f"<div class='reactions'>{reactions}</div></div></div>"
        )


def clock(ts: float) -> str:
    """The time of a Slack ts as the demo shows it everywhere: UTC, to the second."""
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S")


def _blocks(blocks: list[dict[str, Any]], names: dict[str, str]) -> str:
    parts = []
    for block in blocks:
        kind = block.get("type")
        if kind in ("section", "header"):
            text = (block.get("text") or {}).get("text", "")
            parts.append(f"<div class='block text'>{_mrkdwn(text, names)}</div>")
        elif kind == "context":
            parts.append(f"<div class='block context'>{_mrkdwn(context_text(block), names)}</div>")
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


def context_text(block: dict[str, Any]) -> str:
    """A context block's text elements, as one line."""
    return " ".join(
        e.get("text", "") for e in block.get("elements", []) if isinstance(e.get("text"), str)
    )


def _mrkdwn(text: str, names: dict[str, str]) -> str:
    """Slack mrkdwn as HTML, as the sandbox page draws it (links only for http(s) and mailto,
    everything else escaped), with mentions in bold."""
    return mrkdwn(text, names, mention=_MENTION)


# Terminal: the same mrkdwn as rich text.
QUOTE_BAR = "▎ "
_TOKEN = re.compile(
    r"<(?P<ref>[^<>\n]+)>"
    r"|(?<![\w*])\*(?P<bold>[^*\n]+)\*(?![\w*])"
    r"|(?<![\w_])_(?P<italic>[^_\n]+)_(?![\w_])"
    r"|`(?P<code>[^`\n]+)`"
)


def terminal_text(text: str, names: Mapping[str, str], style: str = "") -> Text:
    """Slack mrkdwn as a terminal shows it: bold, italics and code styled, `>` quotes behind a
    bar, mentions by name, links by their label, dates by their fallback; no markers left."""
    out = Text(style=style)
    for index, line in enumerate(text.split("\n")):
        if index:
            out.append("\n")
        if line.startswith(">"):
            out.append(QUOTE_BAR, "dim")
            line = line[1:]
        _inline_text(out, line, names, "")
    return out


def _inline_text(out: Text, line: str, names: Mapping[str, str], style: str) -> None:
    at = 0
    for match in _TOKEN.finditer(line):
        out.append(slack_unescape(line[at : match.start()]), style)
        at = match.end()
        if match["ref"] is not None:
            person = match["ref"][:1] in "@#"  # a link or a date reads as plain text
            out.append(
                _reference(match["ref"], names), f"{style} bold".strip() if person else style
            )
        elif match["bold"] is not None:
            _inline_text(out, match["bold"], names, f"{style} bold".strip())
        elif match["italic"] is not None:
            _inline_text(out, match["italic"], names, f"{style} italic".strip())
        else:
            out.append(slack_unescape(match["code"]), f"{style} cyan".strip())
    out.append(slack_unescape(line[at:]), style)


def _reference(ref: str, names: Mapping[str, str]) -> str:
    """`<@U1>`, `<#C1|name>`, `<!date^…|fallback>`, `<url|label>`, `<url>` as words."""
    target, _, label = ref.partition("|")
    if target[:1] in "@#":
        return target[0] + names.get(target[1:], label or target[1:])
    if target.startswith("!"):
        return label or "@" + target[1:].split("^")[0]
    return slack_unescape(label or target)


def print_hanging(console: Console, body: Text, first: Text, rest: Text | None = None) -> None:
    """Print `body` wrapped to the console, `first` before its first line and `rest` (the same
    by default) before every other one, wrapped lines included, so a margin never breaks; a
    quoted line keeps its bar on each of its wrapped lines too."""
    rest = first if rest is None else rest
    prefix = first
    for line in body.split("\n"):
        bar = Text(QUOTE_BAR, "dim") if line.plain.startswith(QUOTE_BAR) else Text()
        if bar:
            line = line[len(QUOTE_BAR) :]
        width = max(console.width - max(first.cell_len, rest.cell_len) - bar.cell_len, 20)
        for part in console.render_lines(line, console.options.update_width(width), pad=False):
            if part and part[-1].text.endswith(" "):  # the space a line was wrapped at
                part[-1] = Segment(part[-1].text.rstrip(" "), part[-1].style)
            console.print(
                Segments([*(prefix + bar).render(console), *part, Segment.line()]), end=""
            )
            prefix = rest
