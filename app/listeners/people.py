"""Who may act on a card: only people of the installing organisation (SPEC §5.6)."""

from __future__ import annotations

from typing import Any

from slack_bolt import BoltContext

from app.oauth import ORGANISATION
from workers.classify import Installation, installation_from_body


def installation_of(context: BoltContext, body: dict[str, Any]) -> Installation:
    """The installing org, from Bolt's authorization (falling back to the envelope).

    Not `context.team_id`: Bolt fills that from the payload, which in a Slack Connect channel
    is the *acting* user's team, the very thing we must check.
    """
    auth = context.authorize_result
    if auth is not None and (auth.team_id or auth.enterprise_id):
        also = frozenset(auth.get(ORGANISATION) or ())  # OAuth: every installation's ids
        return Installation(auth.team_id, auth.enterprise_id, auth.bot_user_id, also)
    return installation_from_body(body)


def is_our_person(context: BoltContext, body: dict[str, Any]) -> bool:
    """True when the user who clicked, submitted or ran a command is of the installing org.

    Interactivity payloads nest the facts (`user.team_id`, `team.id`, `enterprise.id`); slash
    commands give them flat (`team_id`, `enterprise_id`)."""
    user = body.get("user") or {}
    if "user_id" in body and not user:  # a slash command
        team, enterprise = body.get("team_id"), body.get("enterprise_id")
    else:
        team = user.get("team_id") or (body.get("team") or {}).get("id")
        enterprise = (body.get("enterprise") or {}).get("id") if body.get("enterprise") else None
    ours = installation_of(context, body)
    if enterprise and ours.enterprise_id:
        return enterprise == ours.enterprise_id and ours.includes(team, enterprise)
    return ours.includes(team)
