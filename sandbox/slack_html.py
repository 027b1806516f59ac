"""Slack messages and modals as plain HTML (developer tool: the sandbox page).

Minimal mrkdwn (``*bold*``, ``_italic_``, ``~strike~``, `` `code` ``, quotes, ``<url|text>``
links, ``<@U…>`` / ``<#C…>`` as names, ``<!date^…|fallback>``) and the Block Kit blocks the app
uses (section, context, divider, actions, header, image; rich_text flattened). Everything
that comes from a message is escaped: only the markup this module writes is HTML, and a link
is a link only for http(s) and mailto URLs.

Interactive elements are drawn by the caller (the page turns a button into a form that sends
a click to the app); without a drawer they are inert.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from typing import Any

#: Draws an interactive element: ``(block_id, element) -> HTML``.
Control = Callable[[str, dict[str, Any]], str]
#: How a mention is marked up by default (``{}``: ``@name`` or ``#channel``, escaped).
MENTION = "<span class='mention'>{}</span>"

_CODE = re.compile(r"```(.+?)```|`([^`\n]+)`", re.DOTALL)
_ANGLE = re.compile(r"<([^<>\n]*)>")
_SLOT = re.compile(r"\x00(\d+)\x00")
_FORMATS = [
    (re.compile(rf"(?<![\w{m}]){m}(?=\S)([^{m}\n]+?)(?<=\S){m}(?![\w{m}])"), tag)
    for m, tag in (("\\*", "b"), ("_", "i"), ("~", "s"))
]
_LINK_SCHEMES = ("http://", "https://", "mailto:")
EMOJI = {
    "eyes": "👀",
    "white_check_mark": "✅",
    "+1": "👍",
    "-1": "👎",
    "thumbsup": "👍",
    "thumbsdown": "👎",
    "ticket": "🎫",
    "mag": "🔍",
    "rotating_light": "🚨",
}


def slack_unescape(text: str) -> str:
    """Undo Slack's text escaping (``&lt;`` ``&gt;`` ``&amp;``): the characters people typed."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def text_html(text: str) -> str:
    """Message text (Slack-escaped) as escaped HTML, no markup."""
    return html.escape(slack_unescape(text))


def mrkdwn(text: str, names: Mapping[str, str], *, mention: str = MENTION) -> str:
    """Slack mrkdwn as HTML (keep newlines with ``white-space: pre-wrap``); ``mention`` marks
    up ``@name`` and ``#channel``.

    Consecutive ``>`` lines are one blockquote, and no line break is kept around it: the
    blockquote is a block of its own, so a break there would show as an empty line."""
    slots: list[str] = []

    def keep(fragment: str) -> str:
        slots.append(fragment)
        return f"\x00{len(slots) - 1}\x00"

    text = text.replace("\x00", "")
    text = _CODE.sub(
        lambda m: keep(
            f"<pre>{text_html(m.group(1))}</pre>"
            if m.group(1) is not None
            else f"<code>{text_html(m.group(2))}</code>"
        ),
        text,
    )
    text = _ANGLE.sub(lambda m: keep(_angle(m.group(1), names, mention)), text)
    lines = []
    for line in text_html(text).split("\n"):
        quoted = line.startswith("&gt;")
        if quoted:
            line = line[4:]
        for pattern, tag in _FORMATS:
            line = pattern.sub(rf"<{tag}>\1</{tag}>", line)
        lines.append(f"<blockquote>{line}</blockquote>" if quoted else line)
    out = "\n".join(lines).replace("</blockquote>\n<blockquote>", "\n")
    out = out.replace("</blockquote>\n", "</blockquote>")  # a block already ends the line
    out = out.replace("\n<blockquote>", "<blockquote>")  # and starts one
    return _SLOT.sub(lambda m: slots[int(m.group(1))], out)


def _angle(inner: str, names: Mapping[str, str], mention: str) -> str:
    """One ``<…>`` control sequence: a mention, a link, a date; anything else stays text."""
    target, _, label = inner.partition("|")
    if target.startswith(("@U", "@W", "@B", "#C", "#G")):
        name = names.get(target[1:]) or label or target[1:]
        return mention.format(target[0] + text_html(name))
    if target.startswith("!"):
        if label:  # <!date^…|fallback>, <!subteam^S…|@team>
            return text_html(label)
        return mention.format("@" + text_html(target[1:]))  # @here, @channel
    url = slack_unescape(target)
    if url.lower().startswith(_LINK_SCHEMES):
        shown = text_html(label) if label else html.escape(url)
        return f"<a href='{html.escape(url, quote=True)}' target='_blank'>{shown}</a>"
    return html.escape(f"<{slack_unescape(inner)}>")


def text_object(obj: Any, names: Mapping[str, str]) -> str:
    """A composition text object (``plain_text`` or ``mrkdwn``) as HTML."""
    if isinstance(obj, str):
        return mrkdwn(obj, names)
    if not isinstance(obj, dict):
        return ""
    text = str(obj.get("text") or "")
    return mrkdwn(text, names) if obj.get("type") == "mrkdwn" else html.escape(text)


def blocks_html(
    blocks: list[dict[str, Any]], names: Mapping[str, str], control: Control | None = None
) -> str:
    """A message's (or a view's) blocks as HTML; interactive elements through ``control``."""
    return "".join(_block(block, names, control) for block in blocks if isinstance(block, dict))


def _block(block: dict[str, Any], names: Mapping[str, str], control: Control | None) -> str:
    kind = block.get("type")
    block_id = str(block.get("block_id") or "")
    if kind == "section":
        parts = [f"<div class='text'>{text_object(block.get('text'), names)}</div>"]
        fields = "".join(
            f"<div class='text'>{text_object(f, names)}</div>" for f in block.get("fields") or []
        )
        if fields:
            parts.append(f"<div class='fields'>{fields}</div>")
        accessory = block.get("accessory")
        if isinstance(accessory, dict):
            parts.append(
                f"<div class='accessory'>{element_html(block_id, accessory, control)}</div>"
            )
        return f"<div class='block section'>{''.join(parts)}</div>"
    if kind == "header":
        return f"<div class='block header'>{text_object(block.get('text'), names)}</div>"
    if kind == "context":
        items = [
            _image_link(e) if e.get("type") == "image" else text_object(e, names)
            for e in block.get("elements") or []
            if isinstance(e, dict)
        ]
        return f"<div class='block context'>{' '.join(items)}</div>"
    if kind == "divider":
        return "<hr>"
    if kind == "actions":
        elements = block.get("elements") or []
        drawn = "".join(element_html(block_id, e, control) for e in elements if isinstance(e, dict))
        return f"<div class='block actions'>{drawn}</div>"
    if kind == "image":
        title = text_object(block.get("title"), names) if block.get("title") else ""
        return f"<div class='block'>{_image_link(block)} {title}</div>"
    if kind == "rich_text":
        return f"<div class='block text'>{html.escape(rich_text_plain(block, names))}</div>"
    return f"<div class='block context'>[{html.escape(str(kind))} block]</div>"


def element_html(block_id: str, element: dict[str, Any], control: Control | None) -> str:
    """An interactive element: a URL button is a link; the rest go to ``control``."""
    kind = element.get("type")
    label = html.escape(str((element.get("text") or {}).get("text") or ""))
    if kind == "button" and element.get("url"):
        url = str(element["url"])
        if url.lower().startswith(_LINK_SCHEMES):
            return f"<a class='button' href='{html.escape(url)}' target='_blank'>{label} ↗</a>"
    if kind == "image":
        return _image_link(element)
    if control is not None:
        return control(block_id, element)
    if kind == "button":
        style = html.escape(str(element.get("style") or ""))
        return f"<button class='{style}' disabled>{label}</button>"
    placeholder = html.escape(str((element.get("placeholder") or {}).get("text") or kind))
    return f"<span class='inert'>[{placeholder}]</span>"


def _image_link(image: dict[str, Any]) -> str:
    url = str(image.get("image_url") or "")
    alt = html.escape(str(image.get("alt_text") or "image"))
    if not url.lower().startswith(("http://", "https://")):
        return f"🖼 {alt}"
    return f"<a href='{html.escape(url)}' target='_blank'>🖼 {alt}</a>"


def rich_text_plain(node: Any, names: Mapping[str, str]) -> str:
    """The words of a rich_text block (sections, quotes, lists), without their styling."""
    if isinstance(node, list):
        return "".join(rich_text_plain(n, names) for n in node)
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind in ("text", "link"):
        return str(node.get("text") or node.get("url") or "")
    if kind == "user":
        return "@" + names.get(str(node.get("user_id")), str(node.get("user_id")))
    if kind == "channel":
        return "#" + names.get(str(node.get("channel_id")), str(node.get("channel_id")))
    if kind == "emoji":
        return EMOJI.get(str(node.get("name")), f":{node.get('name')}:")
    if kind == "broadcast":
        return f"@{node.get('range')}"
    inner = rich_text_plain(node.get("elements") or [], names)
    return inner + "\n" if kind in ("rich_text_list", "rich_text_quote") else inner


def field_name(block_id: str, action_id: str) -> str:
    """The form field of an input element in a modal drawn by ``view_html``."""
    return f"{block_id}|{action_id}"


def view_html(
    view: dict[str, Any],
    names: Mapping[str, str],
    *,
    typed: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
) -> str:
    """A modal's blocks, its input blocks as form fields (``typed``: values to show again;
    ``errors``: ``{block_id: message}`` from a ``response_action: errors``)."""
    parts = []
    for block in view.get("blocks") or []:
        if block.get("type") != "input":
            parts.append(_block(block, names, None))
            continue
        block_id = str(block.get("block_id") or "")
        element = block.get("element") or {}
        name = field_name(block_id, str(element.get("action_id") or ""))
        label = text_object(block.get("label"), names)
        field = _input(element, name, (typed or {}).get(name), required=not block.get("optional"))
        hint = block.get("hint")
        error = (errors or {}).get(block_id)
        parts.append(
            f"<label class='block input'><b>{label}</b>{field}"
            + (f"<small>{text_object(hint, names)}</small>" if hint else "")
            + (f"<span class='error'>{html.escape(error)}</span>" if error else "")
            + "</label>"
        )
    return "".join(parts)


def _input(element: dict[str, Any], name: str, typed: str | None, *, required: bool) -> str:
    kind = element.get("type")
    attrs = f"name='{html.escape(name)}'" + (" required" if required else "")
    placeholder = html.escape(str((element.get("placeholder") or {}).get("text") or ""))
    if kind == "plain_text_input":
        value = html.escape(typed if typed is not None else str(element.get("initial_value") or ""))
        if element.get("max_length"):
            attrs += f" maxlength='{int(element['max_length'])}'"
        if element.get("multiline"):
            return f"<textarea {attrs} rows='4' placeholder='{placeholder}'>{value}</textarea>"
        return f"<input {attrs} value='{value}' placeholder='{placeholder}'>"
    if kind == "static_select":
        chosen = typed
        if chosen is None:
            chosen = str((element.get("initial_option") or {}).get("value") or "")
        options = [f"<option value=''>{placeholder or 'Choose…'}</option>"]
        for option in element.get("options") or []:
            value = str(option.get("value") or "")
            selected = " selected" if value == chosen else ""
            options.append(
                f"<option value='{html.escape(value)}'{selected}>"
                f"{html.escape(str((option.get('text') or {}).get('text') or value))}</option>"
            )
        return f"<select {attrs}>{''.join(options)}</select>"
    return f"<span class='inert'>[{html.escape(str(kind))}: not supported on this page]</span>"
