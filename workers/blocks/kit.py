"""What the Block Kit builders share: a modal's frame, its inputs, clipping and escaping.

The card's modals (edit, reject) and the escalation modal are the same frame around their
inputs; the card, the escalation post and the SLA notes clip and escape text the same way.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from workers.ids import BlockId, CallbackId


def modal(
    callback_id: CallbackId,
    *,
    title: str,
    submit: str | None,
    metadata: dict[str, Any],
    blocks: list[Block],
) -> View:
    """A modal with a Cancel button; `metadata` comes back in its submission (`submit` None:
    no submit button, the modal only informs)."""
    return View(
        type="modal",
        callback_id=callback_id,
        private_metadata=json.dumps(metadata),
        title=PlainTextObject(text=title),
        submit=PlainTextObject(text=submit) if submit else None,
        close=PlainTextObject(text="Cancel"),
        blocks=blocks,
    )


def text_input(
    block_id: BlockId,
    action_id: BlockId,
    *,
    label: str,
    hint: str,
    max_length: int,
    initial_value: str | None = None,
    optional: bool | None = None,
) -> InputBlock:
    """A multi-line text input (`initial_value` None: empty)."""
    return InputBlock(
        block_id=block_id,
        optional=optional,
        label=PlainTextObject(text=label),
        element=PlainTextInputElement(
            action_id=action_id,
            multiline=True,
            initial_value=initial_value,
            max_length=max_length,
        ),
        hint=PlainTextObject(text=hint),
    )


def select_input(
    block_id: BlockId,
    action_id: BlockId,
    *,
    label: str,
    options: list[Option],
    placeholder: str | None = None,
    initial_option: Option | None = None,
) -> InputBlock:
    """A drop-down of `options` (`initial_option` None: none chosen yet)."""
    return InputBlock(
        block_id=block_id,
        label=PlainTextObject(text=label),
        element=StaticSelectElement(
            action_id=action_id,
            placeholder=PlainTextObject(text=placeholder) if placeholder else None,
            options=options,
            initial_option=initial_option,
        ),
    )


def slack_time(moment: datetime) -> str:
    """A time each reader sees in their own zone, with a UTC fallback."""
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def plain(text: str) -> str:
    """Text shown as it was typed: Slack's three escapes, so no `<…>` becomes a mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, an ellipsis where it was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def age(elapsed: timedelta) -> str:
    """`5m`, `3h`, `2d`: how long a request or an incident has waited (never negative)."""
    seconds = max(0, int(elapsed.total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"
