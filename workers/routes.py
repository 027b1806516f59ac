"""Which internal channel a request's approval card goes to (`TRIAGE_ROUTES`).

One channel takes about one `chat.postMessage` a second, so on a busy morning a single triage
channel holds every card in one line. `TRIAGE_ROUTES` spreads them: a rule for the customer's
channel wins, then one for the account owner (their Slack user id, found by the context
stage), then one for the account's tier, then `default`, then `TRIAGE_CHANNEL`.

The channel is chosen once, when the card is first posted, and kept on the request
(`requests.card_channel`): every later update, thread reply and note goes where the card is,
even if the routes or the account's tier change meanwhile.
"""

from __future__ import annotations

from integrations.settings import Settings
from integrations.store.models import Request
from workers.stage_data import RequestContext

NOWHERE = "TRIAGE_CHANNEL is not set: there is nowhere to post approval cards"


def card_channel(
    settings: Settings, *, customer_channel: str, context: RequestContext | None
) -> str:
    """The channel a new card goes to: the first of channel:, owner:, tier:, default that
    has a rule, else TRIAGE_CHANNEL. Raises RuntimeError when there is none at all."""
    routes = settings.triage_routes
    account = context.account if context is not None else None
    owner = account.owner.slack_user_id if account and account.owner else None
    tier = account.tier.strip().lower() if account and account.tier else None
    rules = [f"channel:{customer_channel}"]
    rules += [f"owner:{owner}"] if owner else []
    rules += [f"tier:{tier}"] if tier else []
    for rule in [*rules, "default"]:
        if rule in routes:
            return routes[rule]
    if settings.triage_channel:
        return settings.triage_channel
    if routes:
        raise RuntimeError(f"{NOWHERE} (no TRIAGE_ROUTES rule matches {', '.join(rules)})")
    raise RuntimeError(NOWHERE)


def posted_card_channel(settings: Settings, request: Request) -> str | None:
    """Where the request's card is: the channel it was posted to, or TRIAGE_CHANNEL for a
    card recorded without its channel."""
    return request.card_channel or settings.triage_channel


def route_channels(settings: Settings) -> list[tuple[str, str]]:
    """Each channel TRIAGE_ROUTES names, once, with the rules that lead to it (for the
    checks at start and in `triage doctor`): [("tier:enterprise, owner:U1", "C1"), ...]."""
    rules: dict[str, list[str]] = {}
    for rule, channel in settings.triage_routes.items():
        rules.setdefault(channel, []).append(rule)
    return [(", ".join(names), channel) for channel, names in rules.items()]
