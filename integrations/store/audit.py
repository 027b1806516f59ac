"""What an audit entry's detail may hold (SPEC §7): who, what, when and ids, never text.

The audit log is append-only: retention never edits it, and on PostgreSQL a trigger refuses
UPDATE and DELETE on `audit_log` (migration 0010). So it must never hold anything retention
would have to remove: no customer's words, no draft, no text a person typed. Where content
must be matched later (the reply posted to a customer, the text an approver sent instead of
the draft, the reason given for a rejection or an escalation), an entry holds its
fingerprint, `fingerprint(text=...)` → `{"text_sha256": ..., "text_length": ...}`; the text
itself stays in the row that owns it (drafts, request_messages, requests), where retention
purges it. To check that a text was the one posted: `fingerprint(text=candidate)` equals
the entry's.

`AuditEntry` refuses (ValueError) a detail with a key of `TEXT_KEYS` at any depth.
"""

from __future__ import annotations

import hashlib
from typing import Any

# Keys that held text before migration 0010, and the obvious next ones: refused in a detail.
TEXT_KEYS = frozenset(
    {
        "text",
        "original",
        "sent",
        "diff",
        "reason",
        "draft",
        "message",
        "summary",
        "question",
        "answer",
        "body",
        "blocks",
    }
)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def fingerprint(**texts: str) -> dict[str, Any]:
    """`name_sha256` (of the UTF-8 bytes) and `name_length` (characters) for each text."""
    detail: dict[str, Any] = {}
    for name, text in texts.items():
        detail[f"{name}_sha256"] = sha256_hex(text)
        detail[f"{name}_length"] = len(text)
    return detail


def refuse_text(detail: dict[str, Any] | None) -> dict[str, Any] | None:
    """The detail unchanged, or ValueError when it carries a text key (at any depth)."""
    found = sorted(_text_keys(detail))
    if found:
        raise ValueError(f"an audit entry holds no text: {', '.join(found)} (use fingerprint())")
    return detail


def _text_keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        keys = {k for k in value if k in TEXT_KEYS}
        return keys.union(*(_text_keys(v) for v in value.values()))
    if isinstance(value, list | tuple):
        return set().union(*(_text_keys(v) for v in value))
    return set()
