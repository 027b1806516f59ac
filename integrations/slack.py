"""The Slack Web API client, built one way for every process.

Retries honour `Retry-After` on 429 and back off on connection and 5xx errors, bounded.
`SLACK_API_URL` points it at GovSlack or at the local emulator (`sandbox/`).
"""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

RATE_LIMIT_RETRIES = 2  # a listener or a job would rather fail and be retried than wait long
# Slack answered an error (SlackApiError: `slack_error` gives its code) or could not be
# reached (URLError, a timeout, a dropped connection: OSErrors), after the client's retries.
SLACK_FAILED = (SlackClientError, OSError)


def build_web_client(
    token: str | None,
    base_url: str,
    *,
    timeout: int = 10,
    rate_limit_retries: int = RATE_LIMIT_RETRIES,
) -> WebClient:
    """A WebClient with bounded retries for rate limits, connection drops and server errors."""
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=timeout,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=rate_limit_retries),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def patient_client(client: WebClient, rate_limit_retries: int) -> WebClient:
    """The same token, URL and timeout, waiting out up to `rate_limit_retries` 429s
    (each `Retry-After` long): for a long batch read such as the backfill, which would rather
    wait than stop half-way."""
    return build_web_client(
        client.token, client.base_url, timeout=client.timeout, rate_limit_retries=rate_limit_retries
    )


def slack_error(exc: Exception) -> str:
    """The short error code Slack answered with (`channel_not_found`...), or the exception."""
    if isinstance(exc, SlackApiError):
        try:
            return str(exc.response.get("error") or exc.response.status_code)
        except ValueError:  # a binary body (not JSON): no code in it
            pass
    return type(exc).__name__
