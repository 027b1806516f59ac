"""Argument parsing for the Slack emulator's method handlers (developer tool / tests' fake Slack).

Slack accepts the same argument as ``"1"``/``"true"``/``True`` (form vs JSON bodies), numbers as
strings, and JSON-encoded strings for structured arguments; these functions normalise that.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import secrets
import string
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.slack_state import SlackError

#: Structured arguments that arrive JSON-encoded in form bodies.
JSON_ARGUMENTS = ("blocks", "attachments", "metadata", "view")

_BLOCK_ID_ALPHABET = string.ascii_letters + string.digits


def decode_json_arguments(args: dict[str, Any]) -> dict[str, Any]:
    """Return ``args`` with JSON-encoded strings of ``JSON_ARGUMENTS`` decoded (when valid)."""
    decoded = dict(args)
    for name in JSON_ARGUMENTS:
        value = decoded.get(name)
        if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
            # an undecodable string stays a string; the handler answers invalid_* like Slack
            with contextlib.suppress(ValueError):
                decoded[name] = json.loads(value)
    return decoded


def flag(value: Any) -> bool:
    """Interpret a Slack boolean argument (``True``, ``1``, ``"1"``, ``"true"``)."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def integer(value: Any, default: int, *, low: int = 1, high: int = 1000) -> int:
    """Interpret an integer argument such as ``limit``, clamped to ``[low, high]``."""
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise SlackError("invalid_arguments") from exc
    return max(low, min(high, number)) if number > 0 else default


def ts_value(value: Any, error: str = "invalid_ts") -> Decimal | None:
    """Parse a Slack timestamp (``"1700000000.000100"``); ``None`` when absent."""
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise SlackError(error) from exc


def in_range(ts: str, oldest: Decimal | None, latest: Decimal | None, *, inclusive: bool) -> bool:
    """Return whether ``ts`` lies between ``oldest`` and ``latest`` (Slack history semantics)."""
    value = Decimal(ts)
    if oldest is not None and (value < oldest or (value == oldest and not inclusive)):
        return False
    return not (latest is not None and (value > latest or (value == latest and not inclusive)))


def encode_cursor(kind: str, value: str) -> str:
    """Return an opaque Slack-style cursor (base64 of ``"<kind>:<value>"``)."""
    return base64.b64encode(f"{kind}:{value}".encode()).decode()


def decode_cursor(cursor: Any, kind: str) -> str | None:
    """Decode a cursor made by ``encode_cursor``; raises ``invalid_cursor`` when malformed."""
    if cursor in (None, ""):
        return None
    try:
        text = base64.b64decode(str(cursor), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise SlackError("invalid_cursor") from exc
    prefix, _, value = text.partition(":")
    if prefix != kind or not value:
        raise SlackError("invalid_cursor")
    return value


def structured(value: Any, error: str) -> Any:
    """Return a decoded structured argument, raising ``error`` when it is still a string."""
    if isinstance(value, str):
        raise SlackError(error)
    return value


def blocks_with_ids(blocks: Any, error: str = "invalid_blocks") -> list[dict[str, Any]]:
    """Validate a blocks array and give every block a ``block_id`` like Slack does."""
    blocks = structured(blocks, error)
    if not isinstance(blocks, list) or not all(
        isinstance(block, dict) and block.get("type") for block in blocks
    ):
        raise SlackError(error)
    result = []
    for block in blocks:
        block = dict(block)
        block.setdefault("block_id", "".join(secrets.choice(_BLOCK_ID_ALPHABET) for _ in range(5)))
        result.append(block)
    return result


def metadata_value(value: Any) -> dict[str, Any]:
    """Validate message metadata: ``{"event_type": str, "event_payload": dict}``."""
    value = structured(value, "invalid_metadata_format")
    if not isinstance(value, dict):
        raise SlackError("invalid_metadata_format")
    if not isinstance(value.get("event_type"), str) or not isinstance(
        value.get("event_payload", {}), dict
    ):
        raise SlackError("invalid_metadata_schema")
    return {"event_type": value["event_type"], "event_payload": value.get("event_payload", {})}
