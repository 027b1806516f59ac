"""Context (SPEC §5.3): the customer's account from Salesforce.

Not built yet: the Salesforce adapter is its own issue ("The customer in one glance"). The
stage exists so the card can say honestly that context is missing, and why.
"""

from __future__ import annotations

from typing import Any


def gather_context(*, channel_id: str, user_id: str) -> dict[str, Any]:
    """The account context for a request, or a note saying why there is none."""
    return {
        "status": "unavailable",
        "reason": "no CRM adapter in this version (Salesforce context is not built yet)",
    }
