"""Argument checking for the Slack emulator (a developer tool and the tests' fake Slack).

The emulator refuses calls the real Slack Web API would not understand, so a typo in an
argument name fails in the tests instead of being silently ignored in production.

Sources, in order:

* ``slack_web_methods.json`` — extracted from Slack's Swagger 2.0 spec (last changed 2020-10) by
  ``python -m sandbox.tools.extract_slack_methods``; committed, the spec is not needed at runtime.
* ``NEWER_THAN_SPEC`` — a short, hand-kept list of methods/arguments Slack added after the spec
  was frozen and that the app (or slack_sdk / slack_bolt on its behalf) actually sends.
  Add entries only with a comment saying why they exist; do not add arguments "just in case".
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

METHODS_FILE = Path(__file__).with_name("slack_web_methods.json")

#: Key under which arguments accepted by every method are listed.
ALL_METHODS = "*"

NEWER_THAN_SPEC: dict[str, set[str]] = {
    # Org-wide (Enterprise Grid) installs: every method accepts `team_id`. slack_sdk's
    # WebClient(team_id=...) adds it to *every* call, and slack_bolt builds its per-request
    # `context.client` with team_id=context.team_id, so all calls made through Bolt's client
    # carry it (verified against slack_sdk 3.47 / slack_bolt 1.30).
    ALL_METHODS: {"team_id"},
    # Token rotation (2021): slack_sdk's TokenRotator refreshes with these (and no `code`).
    "oauth.v2.access": {"grant_type", "refresh_token"},
    # Message metadata (announced 2022-09): `metadata` = {"event_type", "event_payload"}.
    "chat.postMessage": {"metadata"},
    "chat.update": {"metadata"},
    # Message metadata is only returned when asked for (added with message metadata, 2022-09).
    "conversations.history": {"include_all_metadata"},
    "conversations.replies": {"include_all_metadata"},
}


@cache
def spec_methods() -> dict[str, dict[str, Any]]:
    """Return the committed method table ``{method: {"http_method", "params", "required"}}``."""
    with METHODS_FILE.open(encoding="utf-8") as handle:
        return json.load(handle)


def known_method(method: str) -> bool:
    """Return whether ``method`` exists in the spec or in ``NEWER_THAN_SPEC``."""
    return method in spec_methods() or (method != ALL_METHODS and method in NEWER_THAN_SPEC)


def allowed_arguments(method: str) -> set[str]:
    """Return every argument name ``method`` accepts (spec + newer list, without ``token``)."""
    entry = spec_methods().get(method, {})
    return (
        set(entry.get("params", ()))
        | NEWER_THAN_SPEC.get(method, set())
        | NEWER_THAN_SPEC[ALL_METHODS]
    )


def check_call(method: str, args: dict[str, Any]) -> list[str]:
    """Return the spec violations of calling ``method`` with ``args`` (empty list = fine).

    Reports an unknown method, arguments the method does not accept and missing required
    arguments. ``token`` is never an argument here: the emulator takes it out beforehand.
    """
    if not known_method(method):
        return [f"{method}: unknown method (not in the 2020 spec nor in NEWER_THAN_SPEC)"]
    violations: list[str] = []
    allowed = allowed_arguments(method)
    for name in sorted(args):
        if name != "token" and name not in allowed:
            violations.append(f"{method}: unknown argument {name!r}")
    required = spec_methods().get(method, {}).get("required", ())
    for name in required:
        if args.get(name) in (None, ""):
            violations.append(f"{method}: missing required argument {name!r}")
    return violations
