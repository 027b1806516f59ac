"""Suggest colleagues (SPEC §5.5).

Not built yet: expertise ranking is its own issue ("Who should we pull in?"). The stage exists
so the card says there are no suggestions and why, instead of showing nothing.
"""

from __future__ import annotations

from typing import Any


def suggest_colleagues(*, request_id: int, text: str) -> dict[str, Any]:
    """The top colleagues to pull in, or a note saying why there are none."""
    return {"status": "unavailable", "reason": "colleague suggestions are not built yet"}
