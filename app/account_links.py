"""Linking a channel to its account (`triage link`, `/triage link`): one flow for both.

The link is stored in the database (it outlives the cache and wins over the account's channel
field), audited, and the channel's cached context is dropped so the next card shows the new
account at once. From Slack, only admins of our own organisation may link (`may_link`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from integrations.deps import Deps
from integrations.failures import unexpected
from integrations.salesforce import AccountRef, CrmUnavailable
from integrations.slack import slack_error
from integrations.store.db import transaction
from integrations.store.models import AuditEntry, ChannelLink, utcnow
from workers.classify import Installation
from workers.context import invalidate_context

log = structlog.get_logger(__name__)

MAX_CHOICES = 5
NOT_ADMIN = (
    "Only workspace admins, owners and the people in TRIAGE_ADMINS can link channels "
    "to accounts. Nothing was linked."
)


@dataclass(frozen=True)
class LinkOutcome:
    """What happened, in one sentence for a person (plain text: the caller formats it)."""

    linked: bool
    message: str
    account: AccountRef | None = None
    choices: list[AccountRef] = field(default_factory=list)


def link_channel(deps: Deps, *, channel_id: str, query: str, actor: str) -> LinkOutcome:
    """Find the account `query` names (an id, or a name) and link `channel_id` to it."""
    query = query.strip()
    if deps.accounts is None:
        return LinkOutcome(False, "No CRM is configured: set SALESFORCE_* or ACCOUNTS_FILE first.")
    if not query:
        return LinkOutcome(False, "Say which account: an account id or its name.")
    try:
        found = deps.accounts.find_accounts(query)
    except CrmUnavailable as exc:
        return LinkOutcome(False, f"The CRM is unavailable ({exc.reason}); nothing was linked.")
    exact = [a for a in found if a.id == query or a.name.casefold() == query.casefold()]
    account = exact[0] if len(exact) == 1 else found[0] if len(found) == 1 else None
    if account is None:
        if not found:
            return LinkOutcome(False, f"No account matches “{query}”; nothing was linked.")
        choices = found[:MAX_CHOICES]
        names = "; ".join(f"{a.name} ({a.id})" for a in choices)
        return LinkOutcome(
            False,
            f"Several accounts match “{query}”: {names}. Link by id to choose one.",
            choices=choices,
        )
    previous = save_link(deps, channel_id=channel_id, account=account, actor=actor)
    invalidate_context(deps.redis, channel_id=channel_id)
    log.info("channel.linked", channel=channel_id, account_id=account.id, actor=actor)
    again = " (it was already)" if previous == account.id else ""
    return LinkOutcome(
        True, f"Linked this channel to {account.name} ({account.id}){again}.", account=account
    )


def save_link(deps: Deps, *, channel_id: str, account: AccountRef, actor: str) -> str | None:
    """Store (or replace) the channel's link and audit it; returns the previous account id."""
    for _ in range(2):  # a concurrent first link of the same channel: the second one updates
        try:
            with transaction(deps.sessions) as session:
                link = session.scalars(
                    select(ChannelLink).where(ChannelLink.channel_id == channel_id)
                ).first()
                previous = link.account_id if link else None
                if link is None:
                    link = ChannelLink(channel_id=channel_id, account_id=account.id)
                    session.add(link)
                link.account_id, link.account_name = account.id, account.name[:255]
                link.linked_by, link.linked_at = actor, utcnow()
                session.add(
                    AuditEntry(
                        actor=actor,
                        action="channel.linked",
                        detail={
                            "channel": channel_id,
                            "account_id": account.id,
                            "previous_account_id": previous,
                        },
                    )
                )
            return previous
        except IntegrityError:
            continue
    raise RuntimeError(f"could not link {channel_id}: concurrent links kept colliding")


def link_from_slack(
    deps: Deps, client: WebClient, ours: Installation, *, user_id: str, channel_id: str, query: str
) -> str:
    """`/triage link <query>` run by `user_id` in `channel_id`: the answer for them (mrkdwn)."""
    try:
        if not may_link(deps, client, ours, user_id):
            log.warning("link.refused", user=user_id, channel=channel_id)
            return NOT_ADMIN
        outcome = link_channel(deps, channel_id=channel_id, query=query, actor=user_id)
    except Exception:  # CrmUnavailable is answered by link_channel; this is a bug
        unexpected(log, "link.failed", where="link", channel=channel_id)
        return "⚠️ Linking failed; see the app's logs."
    mark = "✅" if outcome.linked else "⚠️"
    return f"{mark} {_plain(outcome.message)}"


def may_link(deps: Deps, client: WebClient, ours: Installation, user_id: str) -> bool:
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
    if not ours.includes(user.get("team_id"), enterprise):
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
