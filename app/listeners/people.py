"""Who may act on a card: only people of the installing organisation (SPEC §5.6)."""

from __future__ import annotations

from typing import Any

from slack_bolt import BoltContext

from app.listeners.payloads import Actor
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


def is_our_person(ours: Installation, actor: Actor) -> bool:
    """True when the user who clicked, submitted or ran a command is of the installing org.

    On Enterprise Grid the user's organisation must be ours, not only a workspace id that
    happens to match."""
    if actor.enterprise_id and ours.enterprise_id:
        return actor.enterprise_id == ours.enterprise_id and ours.includes(
            actor.team_id, actor.enterprise_id
        )
    return ours.includes(actor.team_id)
