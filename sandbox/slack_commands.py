"""Slash command requests shaped like Slack's (a form-encoded body), for tests and the demo.

Developer tool. The field set follows Slack's "Slash commands" payload (and the sample in
`tests/fixtures/slack_samples/slash_command.json`); POST the result with
`sandbox.slack_events.deliver`, which signs it.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode


def slash_command_body(
    *,
    command: str,
    text: str,
    user_id: str,
    team_id: str,
    channel_id: str,
    response_url: str,
    channel_name: str = "channel",
    user_name: str = "user",
    enterprise_id: str | None = None,
    api_app_id: str = "A0TRIAGE",
) -> str:
    """The form body Slack POSTs when someone runs `command text` in `channel_id`."""
    fields = {
        "token": "verification-token-unused",
        "team_id": team_id,
        "team_domain": team_id.lower(),
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": f"{secrets.randbelow(10**10)}.{secrets.token_hex(8)}",
    }
    if enterprise_id:
        fields["enterprise_id"] = enterprise_id
    return urlencode(fields)
