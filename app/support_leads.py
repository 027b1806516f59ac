"""Who may `/escalate` (SPEC §6.2): the user ids and user groups in `SUPPORT_LEADS`.

A group's members come from `usergroups.users.list` and are cached in Redis for
`CACHE_SECONDS`, so a lead's second command costs no Slack call (the modal must open within
the trigger's 3 seconds). Without Redis each check asks Slack; a failed look-up refuses.
"""

from __future__ import annotations

import json

import structlog
from redis.exceptions import RedisError
from slack_sdk.errors import SlackApiError

from integrations.deps import Deps
from integrations.slack import slack_error

log = structlog.get_logger(__name__)

CACHE_SECONDS = 300
NOT_A_LEAD = (
    "Only support leads (SUPPORT_LEADS) can escalate requests. Nothing was escalated; "
    "ask a lead, or an admin to add you."
)


def is_support_lead(deps: Deps, user_id: str) -> bool:
    """True when the user is listed in SUPPORT_LEADS, directly or through a user group."""
    leads = deps.settings.support_leads
    if user_id in leads:
        return True
    return any(user_id in group_members(deps, group) for group in leads if group.startswith("S"))


def group_members(deps: Deps, group_id: str) -> set[str]:
    """The members of a Slack user group, from the cache or `usergroups.users.list`."""
    key = f"triage:usergroup:{group_id}"
    try:
        cached = deps.redis.get(key)
    except RedisError:
        cached = None
    if cached is not None:
        return set(json.loads(cached))  # type: ignore[arg-type]
    try:
        users = list(deps.slack.usergroups_users_list(usergroup=group_id)["users"])
    except SlackApiError as exc:
        log.warning("leads.group_lookup_failed", group=group_id, error=slack_error(exc))
        return set()
    try:
        deps.redis.set(key, json.dumps(users), ex=CACHE_SECONDS)
    except RedisError as exc:
        log.warning("leads.cache_unavailable", error=type(exc).__name__)
    return set(users)
