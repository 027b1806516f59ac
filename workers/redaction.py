"""Redaction (SPEC §5.4): what is masked before any text leaves for the model.

Phone numbers are found by `phonenumbers` (Google's libphonenumber). The rest is a documented
pattern set, each pattern below with what it catches. Masks are numbered per kind
(`[EMAIL_1]`, `[CARD_1]`...) so the model can still refer to them; the `Redaction` records how
many of each kind were masked, never the values.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import phonenumbers

# (kind, pattern, extra check). Order matters: secrets before card numbers and phones, so a key
# made of digits is masked as a secret, not half as a card.
_PATTERNS: list[tuple[str, re.Pattern[str], Callable[[str], bool] | None]] = [
    # Passwords in URLs: scheme://user:password@host — the password part only.
    ("url_password", re.compile(r"(?<=://)[^\s:/@]+:([^\s@/]+)(?=@)"), None),
    # OpenAI keys (sk-..., sk-proj-...).
    ("secret", re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{16,}"), None),
    # Slack tokens: xoxb-, xoxp-, xoxa-, xoxr-, xoxs-, xoxe-; app tokens xapp-.
    ("secret", re.compile(r"\bxox[abprse]-[A-Za-z0-9\-]{10,}|\bxapp-[A-Za-z0-9\-]{10,}"), None),
    # AWS access key ids, and secret keys written as `aws_secret_access_key = ...`.
    ("secret", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), None),
    ("secret", re.compile(r"(?i)(?<=aws_secret_access_key)[\s:=\"']+[A-Za-z0-9/+=]{40}"), None),
    # GitHub tokens, Google API keys, Stripe keys, JWTs.
    ("secret", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"), None),
    ("secret", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"), None),
    ("secret", re.compile(r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}"), None),
    ("secret", re.compile(r"\beyJ[\w\-]{8,}\.[\w\-]{8,}\.[\w\-]{8,}"), None),
    # Bearer tokens in pasted headers or curl commands.
    ("secret", re.compile(r"(?i)(?<=bearer )[A-Za-z0-9._~+/\-]{16,}=*"), None),
    # `password: hunter2`, `pwd=...` written out in prose or config.
    ("password", re.compile(r"(?i)(?<=password)(?:\s*(?:is|:|=)\s*)(\S+)"), None),
    ("email", re.compile(r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}\b"), None),
    # Card numbers: 13 to 19 digits, optionally grouped by spaces or dashes, passing Luhn.
    ("card", re.compile(r"\b(?:\d[ \-]?){12,18}\d\b"), lambda s: _luhn(re.sub(r"\D", "", s))),
]


@dataclass
class Redaction:
    """The masked text and what was masked (counts per kind)."""

    text: str
    masked: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, int]:
        return dict(self.masked)


# Numbers written without a country code are read as these countries' formats.
PHONE_REGIONS = ("US", "GB", "DE", "FR", "IN", "AU", "BR", "JP")


def redact(text: str, *, regions: tuple[str, ...] = PHONE_REGIONS) -> Redaction:
    """Mask secrets, passwords, emails, card numbers and phone numbers in `text`."""
    masked: Counter[str] = Counter()
    for kind, pattern, check in _PATTERNS:
        text = _mask(text, kind, pattern, check, masked)
    for region in regions:
        text = _mask_phones(text, region, masked)
    return Redaction(text, masked)


def _mask(
    text: str,
    kind: str,
    pattern: re.Pattern[str],
    check: Callable[[str], bool] | None,
    masked: Counter[str],
) -> str:
    def replace(match: re.Match[str]) -> str:
        group = 1 if match.groups() else 0
        value = match.group(group)
        if check is not None and not check(value):
            return match.group(0)
        masked[kind] += 1
        token = f"[{kind.upper()}_{masked[kind]}]"
        start, end = match.start(group) - match.start(0), match.end(group) - match.start(0)
        whole = match.group(0)
        return whole[:start] + token + whole[end:]

    return pattern.sub(replace, text)


def _mask_phones(text: str, region: str, masked: Counter[str]) -> str:
    # VALID (not merely possible): order numbers and dates must not be read as phones.
    spans = [
        (m.start, m.end)
        for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID)
    ]
    for start, end in reversed(spans):
        while start < end and not (text[start].isdigit() or text[start] in "+("):
            start += 1
        if "[" in text[start:end] or _glued(text, start):  # masked already, or an identifier
            continue
        masked["phone"] += 1
        text = text[:start] + f"[PHONE_{masked['phone']}]" + text[end:]
    return text


def _glued(text: str, start: int) -> bool:
    """True for digits that continue a word, like INV-2026-000123: an identifier, not a phone."""
    before = text[max(0, start - 2) : start]
    return bool(re.search(r"[A-Za-z0-9]-?$", before))


def _luhn(digits: str) -> bool:
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0
