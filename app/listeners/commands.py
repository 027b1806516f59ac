"""The `/triage` slash command (SPEC §6.2): `help`, `status`, and `link` for admins.

The ack is immediate and does no network call. `link` then continues in a Bolt lazy listener
(its own thread): it checks who is asking with `users.info`, looks the account up in the CRM,
and answers through the command's response_url, always ephemeral. In a shared channel an
answer the customer could see would be the worst kind of leak.
"""

from __future__ import annotations

from typing import Any

import structlog
from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from app.account_links import link_channel
from app.listeners.people import installation_of
from app.queue_status import queue_status
from integrations.deps import Deps
from integrations.slack import slack_error

log = structlog.get_logger(__name__)

HELP = (
    "*/triage* commands:\n"
    "• `/triage link <account id or name>`: link this channel to its account, so cards from "
    "it show the account's context (admins)\n"
    "• `/triage status`: open requests by urgency, near breach and breached (only you see it)\n"
    "• `/triage help`: this list\n"
    "Support leads escalate with `/escalate` (`/escalate help` shows how)."
)
NOT_OURS = "Only people of the organisation that runs this app can see its queue."
USAGE = "Usage: `/triage link <account id or name>`, run in the channel to link."
NOT_ADMIN = (
    "Only workspace admins, owners and the people in TRIAGE_ADMINS can link channels "
    "to accounts. Nothing was linked."
)


def _subcommand(command: dict[str, Any]) -> tuple[str, str]:
    word, _, rest = (command.get("text") or "").strip().partition(" ")
    return word.lower(), rest.strip()


def register(app: App, deps: Deps) -> None:
    def acknowledge(
        ack: Ack, command: dict[str, Any], context: BoltContext, body: dict[str, Any]
    ) -> None:
        word, rest = _subcommand(command)
        if word in ("", "help"):
            ack(response_type="ephemeral", text=HELP)
        elif word == "status":
            # The database alone answers, so the ack carries it; never for a customer.
            ours = installation_of(context, body)
            if not ours.includes(command.get("team_id"), command.get("enterprise_id")):
                ack(response_type="ephemeral", text=NOT_OURS)
                return
            ack(response_type="ephemeral", text=queue_status(deps))
        elif word == "link" and not rest:
            ack(response_type="ephemeral", text=USAGE)
        elif word == "link":
            ack()  # the lazy listener answers once it knows
        else:
            ack(
                response_type="ephemeral",
                text=f"`/triage {_plain(word)}` is not built yet. Try `/triage help`.",
            )

    def link_later(
        command: dict[str, Any],
        body: dict[str, Any],
        context: BoltContext,
        respond: Respond,
        client: WebClient,
    ) -> None:
        word, rest = _subcommand(command)
        if word != "link" or not rest:
            return
        user_id, channel_id = str(command["user_id"]), str(command["channel_id"])
        try:
            if not may_link(deps, client, context, body, user_id):
                log.warning("link.refused", user=user_id, channel=channel_id)
                respond(response_type="ephemeral", text=NOT_ADMIN)
                return
            outcome = link_channel(deps, channel_id=channel_id, query=rest, actor=user_id)
            mark = "✅" if outcome.linked else "⚠️"
            respond(response_type="ephemeral", text=f"{mark} {_plain(outcome.message)}")
        except Exception:
            log.exception("link.failed", channel=channel_id)
            respond(response_type="ephemeral", text="⚠️ Linking failed; see the app's logs.")

    app.command("/triage")(ack=acknowledge, lazy=[link_later])


def may_link(
    deps: Deps, client: WebClient, context: BoltContext, body: dict[str, Any], user_id: str
) -> bool:
    """A full member of the installing organisation who is an admin, owner or TRIAGE_ADMIN.

    `is_admin` alone is not enough: in a Slack Connect channel, the customer's own workspace
    admin is an admin too, of the other organisation.
    """
    try:
        user = client.users_info(user=user_id)["user"]
    except SlackApiError as exc:
        log.warning("link.user_lookup_failed", user=user_id, error=slack_error(exc))
        return False
    enterprise = (user.get("enterprise_user") or {}).get("enterprise_id")
    if not installation_of(context, body).includes(user.get("team_id"), enterprise):
        return False
    if user.get("deleted") or user.get("is_bot"):
        return False
    if user.get("is_restricted") or user.get("is_ultra_restricted"):
        return False  # guests
    return user_id in deps.settings.triage_admins or bool(
        user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner")
    )


def _plain(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
