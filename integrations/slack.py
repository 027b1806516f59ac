"""The Slack Web API client, built one way for every process.

Each HTTP attempt (first tries, retries, later pages) first takes a slot from its workspace's
call budget (`integrations.slack_budget`), shared across processes in Redis; a 429 is recorded
there for that method (and, for a post, that channel), so no process calls it again before
its `Retry-After` ends, and other methods and channels keep flowing. Retries are bounded:
429s (when the wait fits), connection drops and 5xx. `SLACK_API_URL` points the client at
GovSlack or at the local emulator (`sandbox/`).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import random
import time
from email.message import Message
from http.client import HTTPMessage
from typing import Any
from urllib.error import HTTPError
from urllib.parse import parse_qs, urlsplit
from urllib.request import Request

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from integrations.slack_budget import (
    POST_MESSAGE,
    BudgetSpent,
    SlackBudget,
    WorkspaceBudget,
    patience,
)

RATE_LIMIT_RETRIES = 2  # a listener or a job would rather fail and be retried than wait long
# The longest a call waits for its slot or a Retry-After (a Slack call may take this long
# anyway: the client's timeout); longer, it answers `ratelimited` and its job is retried.
MAX_WAIT_SECONDS = 10.0
# Slack answered an error (SlackApiError: `slack_error` gives its code) or could not be
# reached (URLError, a timeout, a dropped connection: OSErrors), after the client's retries.
SLACK_FAILED = (SlackClientError, OSError)
# On a 429 the budget answered itself (the slot is further off than the call may wait):
# nothing to record, and no point retrying.
BUDGET_HEADER = "X-Triage-Budget"


def build_web_client(
    token: str | None,
    base_url: str,
    *,
    timeout: int = 10,
    rate_limit_retries: int = RATE_LIMIT_RETRIES,
    budget: SlackBudget | None = None,
    workspace: str | None = None,
    max_wait: float = MAX_WAIT_SECONDS,
) -> WebClient:
    """A WebClient with bounded retries for rate limits, connection drops and server errors;
    with a `budget`, every call of it spends from `workspace`'s (the team id; unknown: a hash
    of the token), and its 429s are waited out by every process."""
    spends = budget.workspace(workspace or token_key(token)) if budget is not None else None
    handlers = [
        ConnectionErrorRetryHandler(max_retry_count=2),
        RateLimitHandler(spends, max_retry_count=rate_limit_retries, max_wait=max_wait),
        ServerErrorRetryHandler(max_retry_count=2),
    ]
    if spends is None:
        return WebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=handlers)
    return BudgetedWebClient(
        token=token,
        base_url=base_url,
        timeout=timeout,
        retry_handlers=handlers,
        budget=spends,
        max_wait=max_wait,
    )


def patient_client(client: WebClient, rate_limit_retries: int, max_wait: float = 300) -> WebClient:
    """The same token, URL, timeout and budget, waiting out up to `rate_limit_retries` 429s
    (each `Retry-After` long, up to `max_wait`): for a long batch read such as the backfill,
    which would rather wait than stop half-way."""
    spends = client.budget if isinstance(client, BudgetedWebClient) else None
    return build_web_client(
        client.token,
        client.base_url,
        timeout=client.timeout,
        rate_limit_retries=rate_limit_retries,
        budget=spends.shared if spends else None,
        workspace=spends.workspace if spends else None,
        max_wait=max_wait,
    )


def token_key(token: str | None) -> str:
    """A workspace key for a token whose team is not known: never the token itself."""
    return "token-" + hashlib.sha256((token or "").encode()).hexdigest()[:16]


def workspace_key(client: WebClient) -> str:
    """The key a client's calls are budgeted (and its workspace's facts cached) under."""
    if isinstance(client, BudgetedWebClient):
        return client.budget.workspace
    return token_key(client.token)


class BudgetedWebClient(WebClient):
    """A WebClient whose every HTTP attempt takes a slot from its workspace's budget first.

    The slot is taken in `_perform_urllib_http_request_internal`, the one place slack_sdk
    (3.x) sends each attempt: first tries, retries and the later pages of a paginated read all
    pass it, where `api_call` would see only first tries (tests/test_slack_budget.py fails
    if a slack_sdk upgrade bypasses it). A slot further off than the call may wait answers a
    429 of our own (`BUDGET_HEADER`), which slack_sdk turns into `SlackApiError`
    (`ratelimited`, with its `Retry-After`) exactly as it would Slack's."""

    def __init__(self, *args: Any, budget: WorkspaceBudget, max_wait: float, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.budget = budget
        self.max_wait = max_wait

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        body = req.data if isinstance(req.data, bytes) else None  # slack_sdk sends bytes
        method, channel = call_of(url, body, req.get_header("Content-type"))
        try:
            self.budget.acquire(method, channel, max_wait=patience(self.max_wait))
        except BudgetSpent as spent:
            raise _budget_429(url, spent) from None
        return super()._perform_urllib_http_request_internal(url, req)  # type: ignore[no-any-return]


class RateLimitHandler(RateLimitErrorRetryHandler):
    """slack_sdk's 429 handler, recording each `Retry-After` in the budget before anything
    else (so every process waits it out, even when this call retries no more), and retrying
    only when the wait fits the call's bound. Bolt copies a client's handlers into the client
    it builds per request, so its 429s are recorded as well."""

    def __init__(self, budget: WorkspaceBudget | None, *, max_retry_count: int, max_wait: float):
        super().__init__(max_retry_count=max_retry_count)
        self.budget = budget
        self.max_wait = max_wait

    def can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429 or _header(response, BUDGET_HEADER):
            return False
        seconds = retry_after(_header(response, "Retry-After"))
        if self.budget is not None:
            content_type = _header_of(request.headers, "Content-type")
            method, channel = call_of(request.url, request.data, content_type)
            self.budget.hold(method, channel, seconds)
        return state.current_attempt < self.max_retry_count and seconds <= patience(self.max_wait)

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        """Sleep the Retry-After out (a budgeted client's next attempt would wait for it too;
        a plain one, such as Bolt's per-request copy, has only this wait)."""
        seconds = retry_after(_header(response, "Retry-After") if response else None)
        state.next_attempt_requested = True
        time.sleep(seconds + random.random() / 4)  # jitter: the waiters do not all call at once
        state.increment_current_attempt()


def call_of(url: str, data: bytes | None, content_type: str | None) -> tuple[str, str | None]:
    """The Web API method of a request's URL (`.../api/chat.postMessage`), and for a post the
    channel it goes to (from its JSON or form body), which has a limit of its own."""
    method = urlsplit(url).path.rsplit("/", 1)[-1]
    if method != POST_MESSAGE or not data:
        return method, None
    try:
        if "json" in (content_type or ""):
            channel = json.loads(data).get("channel")
        else:
            channel = next(iter(parse_qs(data.decode()).get("channel") or []), None)
    except (ValueError, AttributeError):  # a body we cannot read: the workspace's limit only
        return method, None
    return method, str(channel) if channel else None


def retry_after(value: str | None) -> float:
    """Seconds of a `Retry-After` header (Slack sends whole seconds; absent: 1, as slack_sdk)."""
    try:
        return max(0.0, float(value)) if value is not None else 1.0
    except ValueError:
        return 1.0


def _header(response: HttpResponse, name: str) -> str | None:
    return _header_of(response.headers, name)


def _header_of(headers: dict[str, Any], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return str(value[0] if isinstance(value, list) else value)
    return None


def _budget_429(url: str, spent: BudgetSpent) -> HTTPError:
    """The 429 Slack would answer, told by the budget instead of by Slack."""
    headers: Message = HTTPMessage()
    headers["Content-Type"] = "application/json; charset=utf-8"
    headers["Retry-After"] = str(max(1, math.ceil(spent.retry_in)))
    headers[BUDGET_HEADER] = "spent"
    body = json.dumps({"ok": False, "error": "ratelimited"}).encode()
    return HTTPError(url, 429, str(spent), headers, io.BytesIO(body))


def refused_by_budget(exc: Exception) -> bool:
    """Whether this `ratelimited` came from our own budget: the call never reached Slack."""
    if not isinstance(exc, SlackApiError):
        return False
    return _header_of(dict(exc.response.headers or {}), BUDGET_HEADER) is not None


def slack_error(exc: Exception) -> str:
    """The short error code Slack answered with (`channel_not_found`...), or the exception."""
    if isinstance(exc, SlackApiError):
        try:
            return str(exc.response.get("error") or exc.response.status_code)
        except ValueError:  # a binary body (not JSON): no code in it
            pass
    return type(exc).__name__


def retry_after_of(exc: SlackApiError) -> float:
    """The `Retry-After` of a `ratelimited` answer (Slack's or the budget's), in seconds."""
    return retry_after(_header_of(dict(exc.response.headers or {}), "Retry-After"))
