"""`/triage auto-send [on|off|status]` (SPEC §6.7): the kill switch, for support leads only.

`off` stops automatic answers at once in every process (the switch is in the database, and
an answer already queued is checked again as it goes out); `on` allows them again where
AUTO_SEND names the channel or tier. Anyone of our organisation may ask for the status.
"""

from __future__ import annotations

from app.support_leads import is_support_lead
from integrations.deps import Deps
from workers.auto_send import set_switch, switch_state

USAGE = "Usage: `/triage auto-send off`, `/triage auto-send on` (support leads), or `status`."
NOT_A_LEAD = (
    "Only support leads (SUPPORT_LEADS) can switch auto-send on or off. Nothing changed; "
    "ask a lead."
)


def auto_send_command(deps: Deps, *, user_id: str, text: str) -> str:
    """The ephemeral answer to `/triage auto-send <text>`, after doing what it asks."""
    word = text.strip().lower() or "status"
    if word == "status":
        return status_text(deps)
    if word not in ("on", "off"):
        return USAGE
    if not is_support_lead(deps, user_id):
        return NOT_A_LEAD
    changed = set_switch(deps, enabled=word == "on", user_id=user_id)
    if word == "off":
        return (
            "⛔ Auto-send is *off* for every process: nothing more is sent without approval, "
            "including answers already queued."
            if changed
            else "Auto-send was off already."
        )
    return (
        "✅ Auto-send is *on* again where AUTO_SEND allows it."
        if changed
        else "Auto-send was on already."
    ) + ("" if deps.settings.auto_send else " (AUTO_SEND is empty: nothing is sent by itself.)")


def status_text(deps: Deps) -> str:
    settings = deps.settings
    enabled, by, at = switch_state(deps)
    if not settings.auto_send:
        where = "AUTO_SEND is empty: every draft waits for a person."
    else:
        where = (
            f"AUTO_SEND: {', '.join(settings.auto_send)}; categories "
            f"{', '.join(settings.auto_send_categories)}; grounding ≥ "
            f"{settings.auto_send_min_score:.2f}; confidence ≥ "
            f"{settings.auto_send_min_confidence:.2f}."
        )
    changed = (
        f" (turned {'on' if enabled else 'off'} by <@{by}>, {at:%Y-%m-%d %H:%M} UTC)"
        if (by and at)
        else ""
    )
    return f"Auto-send switch: *{'on' if enabled else 'off'}*{changed}. {where}"
