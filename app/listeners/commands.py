"""The `/triage` slash command (SPEC §6.2): `help`, `status`, `link` for admins, and
`auto-send` (the kill switch, SPEC §6.7) for support leads.

The ack is immediate and does no network call. `link` then continues in a Bolt lazy listener
(its own thread): it checks who is asking with `users.info`, looks the account up in the CRM,
and answers through the command's response_url, always ephemeral. In a shared channel an
answer the customer could see would be the worst kind of leak.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from app.account_links import link_from_slack
from app.auto_send_command import auto_send_command
from app.listeners.payloads import SlashCommand, parse
from app.listeners.people import installation_of
from app.listeners.wiring import with_deps
from app.queue_status import queue_status
from integrations.deps import Deps

HELP = (
    "*/triage* commands:\n"
    "• `/triage link <account id or name>`: link this channel to its account, so cards from "
    "it show the account's context (admins)\n"
    "• `/triage status`: open incidents first, then the open requests (account, channel, "
    "urgency, age, a link to each card), breached and near breach first (only you see it)\n"
    "• `/triage auto-send off` (or `on`, `status`): the kill switch of automatic answers "
    "(support leads)\n"
    "• `/triage help`: this list\n"
    "Support leads escalate with `/escalate` (`/escalate help` shows how)."
)
NOT_OURS = "Only people of the organisation that runs this app can see its queue."
USAGE = "Usage: `/triage link <account id or name>`, run in the channel to link."


def register(app: App, deps: Deps) -> None:
    app.command("/triage")(
        ack=with_deps(triage_command, deps), lazy=[with_deps(link_channel_later, deps)]
    )


def triage_command(deps: Deps, ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    """Answer `help` and `status` in the ack itself; `link` is answered by the lazy half."""
    command = parse(SlashCommand, body)
    if command is None:
        ack()
        return
    word, rest = _subcommand(command.text)
    if word in ("", "help"):
        ack(response_type="ephemeral", text=HELP)
    elif word == "status":
        # The database alone answers, so the ack carries it; never for a customer.
        ours = installation_of(context, body)
        if ours.includes(command.team_id, command.enterprise_id):
            status = queue_status(deps)
            ack(response_type="ephemeral", text=status.text, blocks=status.blocks)
        else:
            ack(response_type="ephemeral", text=NOT_OURS)
    elif word == "auto-send":
        ack()  # the lazy listener answers: a user group's members may need Slack
    elif word == "link" and not rest:
        ack(response_type="ephemeral", text=USAGE)
    elif word == "link":
        ack()  # the lazy listener answers once it knows
    else:
        ack(
            response_type="ephemeral",
            text=f"`/triage {_plain(word)}` is not built yet. Try `/triage help`.",
        )


def link_channel_later(
    deps: Deps, body: dict[str, Any], context: BoltContext, respond: Respond, client: WebClient
) -> None:
    """`/triage link <account>`, after the ack: check the admin, link, answer (ephemeral)."""
    command = parse(SlashCommand, body, report=False)
    if command is None:
        return
    word, rest = _subcommand(command.text)
    if word == "auto-send":
        ours = installation_of(context, body).includes(command.team_id, command.enterprise_id)
        answer = auto_send_command(deps, user_id=command.user_id, text=rest) if ours else NOT_OURS
        respond(response_type="ephemeral", text=answer)
        return
    if word != "link" or not rest:
        return
    answer = link_from_slack(
        deps,
        client,
        installation_of(context, body),
        user_id=command.user_id,
        channel_id=command.channel_id,
        query=rest,
    )
    respond(response_type="ephemeral", text=answer)


def _subcommand(text: str) -> tuple[str, str]:
    """The first word (lower case) and the rest: `link Acme Corp` -> ("link", "Acme Corp")."""
    word, _, rest = text.strip().partition(" ")
    return word.lower(), rest.strip()


def _plain(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
