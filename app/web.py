"""The HTTP surface: `POST /slack/events`, `GET /healthz`, `GET /metrics`, and with OAuth
`GET /slack/install` and `GET /slack/oauth_redirect`.

Every request is refused as early and as cheaply as possible, each refusal with a 4xx and one
`http.refused` log line, never a 5xx or a traceback, so a hostile or broken client cannot make
the process fail or Slack retry:

- a body over `MAX_BODY_BYTES` is a 413 before it is read (by its Content-Length) or as soon
  as reading it goes past the limit (a chunked body has no length);
- on `/slack/events`, a content type Slack never sends is a 415;
- a missing, bad or stale signature is a 401. Signatures are checked here, once, on the raw
  bytes, before Bolt parses anything (the Bolt app's own check is off, see app/main.py);
- a validly signed body that cannot be parsed, nests deeper than `MAX_DEPTH`, holds NaN or
  Infinity, or carries an `event` that is not one is a 400 (plain Bolt would answer 500); a lone
  surrogate in a string is mended to U+FFFD (`inspect_body`);
- unknown paths and wrong methods are Flask's 404 and 405, logged the same way.

docs/SECURITY.md says what this defends against, and tests/test_hostile_http.py tries it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import time
from typing import Any
from urllib.parse import urlencode

import structlog
from flask import Flask, Response, jsonify, request
from slack_bolt import App, BoltRequest
from slack_bolt.adapter.flask.handler import SlackRequestHandler, to_flask_response
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from integrations.deps import Deps
from integrations.failures import DATABASE_DOWN, REDIS_DOWN, unexpected
from workers import metrics

log = structlog.get_logger(__name__)

# Slack's own requests are a few kilobytes (a message event with blocks and files, a modal's
# state); 1 MB leaves room for any of them and bounds what one request can make us read,
# hash and parse.
MAX_BODY_BYTES = 1024 * 1024
# Slack's deepest payloads (rich text inside blocks inside an edited message) nest about a
# dozen levels. Far deeper, and storing, logging or validating the body would reach Python's
# recursion limit (a 500) further down.
MAX_DEPTH = 64
# Events come as JSON; commands, interactivity and ssl_check as a form.
SLACK_CONTENT_TYPES = frozenset({"application/json", "application/x-www-form-urlencoded"})
# Refusals a scanner makes by the thousand are logged below warning.
_ROUTINE = frozenset({404, 405})


def create_web(bolt: App, deps: Deps) -> Flask:
    """The WSGI app serving Slack's requests and the operational endpoints."""
    secret = deps.settings.slack_signing_secret
    secret_bytes = secret.get_secret_value().encode() if secret else b""
    web = Flask("triage")
    # A body without a Content-Length (chunked) is read through werkzeug's LimitedStream,
    # which stops at this many bytes without a word: one byte more than we accept, so that
    # `slack_events` can tell a body of exactly the limit from a longer one.
    web.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES + 1

    @web.before_request
    def refuse_oversized() -> Response | None:
        """Every path, before any body is read: a header comparison, cheap before each ack."""
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return refused(413, "body too large", length=request.content_length)
        return None

    @web.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response | HTTPException:
        """Flask's own refusals (404, 405, a 413 found while reading) as a short plain answer
        and one log line, instead of an HTML page and nothing in the log. A 500 is a bug of
        ours, not a refusal: Flask has logged its traceback already, and answers it."""
        if error.code is None or error.code >= 500:
            return error
        return refused(error.code, error.name)

    @web.post("/slack/events")
    def slack_events() -> Response:
        started = time.perf_counter()
        if request.mimetype not in SLACK_CONTENT_TYPES:
            return refused(415, "not a content type Slack sends", type=request.mimetype[:100])
        raw = request.get_data()
        if len(raw) > MAX_BODY_BYTES:  # chunked, so not refused by its length beforehand
            return refused(413, "body too large")
        why = _unsigned(secret_bytes, raw, request.headers)
        if why:
            metrics.EVENTS.labels(kind="rejected").inc()
            return refused(401, why)
        bolt_request = _parse(raw, request.query_string, dict(request.headers))
        if bolt_request is None:
            metrics.EVENTS.labels(kind="rejected").inc()
            return Response("malformed body", status=400)
        response = to_flask_response(bolt.dispatch(bolt_request))
        metrics.ACK_SECONDS.observe(time.perf_counter() - started)
        return response

    if bolt.oauth_flow is not None:
        oauth = SlackRequestHandler(bolt)  # Bolt runs the OAuth flow on these two paths

        @web.get(bolt.oauth_flow.install_path)
        @web.get(bolt.oauth_flow.redirect_uri_path)
        def slack_oauth() -> Response:
            if not _utf8(request.query_string):  # Bolt's adapter would raise decoding it
                return refused(400, "query string is not UTF-8")
            response: Response = oauth.handle(request)
            if 400 <= response.status_code < 500:  # a forged or expired state, a bad code...
                log.warning("http.refused", status=response.status_code, path=request.path)
            return response

    @web.get("/healthz")
    def healthz() -> tuple[Response, int]:
        checks = {"database": _check(lambda: _ping_db(deps)), "redis": _check(deps.redis.ping)}
        healthy = all(v == "ok" for v in checks.values())
        return jsonify(status="ok" if healthy else "degraded", **checks), 200 if healthy else 503

    @web.get("/metrics")
    def prometheus() -> Response:
        body, content_type = metrics.render()
        return Response(body, content_type=content_type)

    return web


def refused(status: int, reason: str, **fields: Any) -> Response:
    """A short plain-text refusal, logged once with what was asked (the path cut short: it is
    the client's, and may be anything)."""
    level = log.info if status in _ROUTINE else log.warning
    level(
        "http.refused",
        status=status,
        reason=reason,
        method=request.method,
        path=request.path[:200],
        **fields,
    )
    return Response(reason, status=status, content_type="text/plain; charset=utf-8")


def _unsigned(secret: bytes, raw: bytes, headers: Any) -> str | None:
    """Why the request is not signed by Slack (no signature, stale, wrong), or None.

    Slack's v0 signature and 5-minute freshness check, on the raw bytes. Not slack_sdk's
    SignatureVerifier: it decodes the body as UTF-8 and int()s the timestamp, so a request
    without the headers, with a timestamp like `abc`, or with a signed body that is not UTF-8
    would raise (a 500) instead of being refused (401) or found malformed (400). Bytes are
    compared, not strings: `compare_digest` raises on a non-ASCII header string.
    """
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not secret:
        return "no signing secret configured"
    if not signature or not (timestamp.isascii() and timestamp.isdigit()):
        return "no signature"
    if abs(time.time() - int(timestamp)) > 300:
        return "stale timestamp"  # a replay of a request recorded earlier, or a skewed clock
    digest = hmac.new(secret, b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256)
    if not hmac.compare_digest(b"v0=" + digest.hexdigest().encode(), signature.encode()):
        return "bad signature"
    return None


# What parsing a body that is not a Slack payload raises: UnicodeDecodeError and
# JSONDecodeError (ValueErrors), Bolt reading fields of a list, a string or a number, and
# RecursionError from JSON nested too deep for the decoder.
_MALFORMED = (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError)


def _parse(raw: bytes, query: bytes, headers: dict[str, Any]) -> BoltRequest | None:
    """A BoltRequest, or None when the body is not a Slack payload we can read."""
    try:
        text, query_text = raw.decode("utf-8"), query.decode("utf-8")
        parsed = BoltRequest(body=text, query=query_text, headers=headers)
    except _MALFORMED as exc:
        log.warning("request.malformed", error=type(exc).__name__)
        return None
    body = parsed.body
    if isinstance(body, dict) and body.get("ssl_check") == "1":
        return parsed  # Slack checking the certificate of a command's URL: Bolt answers 200
    if not isinstance(body, dict) or not isinstance(body.get("type") or body.get("command"), str):
        log.warning("request.malformed", error="no payload type")
        return None
    unreadable, mended = inspect_body(body)
    if unreadable:
        log.warning("request.malformed", error=unreadable)
        return None
    event = body.get("event")
    if (body.get("type") == "event_callback" or "event" in body) and not (
        isinstance(event, dict) and isinstance(event.get("type"), str)
    ):  # Bolt's middleware reads event fields of any payload before a listener could refuse it
        log.warning("request.malformed", error="an event that is not one")
        return None
    if mended:  # Bolt parses the raw text again for each lazy listener: give it the mended one
        as_json = parsed.content_type == "application/json" or text.startswith("{")
        again = json.dumps(body) if as_json else urlencode({"payload": json.dumps(body)})
        return BoltRequest(body=again, query=query_text, headers=headers)
    return parsed


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def inspect_body(body: dict[str, Any]) -> tuple[str | None, bool]:
    """Why the parsed `body` cannot be handled, if it cannot, and whether it was mended.

    Refused: dicts and lists nested deeper than `MAX_DEPTH`, and NaN or Infinity (Python's
    JSON reads them; JSON has no such numbers, and PostgreSQL refuses them). Mended, in place:
    a lone surrogate in a string (`"\\ud800"` is valid JSON, but no text) becomes U+FFFD, as
    NUL does when stored, so no strict encoder further on (the database's) fails on it. Keys
    are left alone: they are stored only inside JSON, which escapes them again.

    A loop, not recursion: the point is to refuse what recursion would choke on. It visits
    each container once and runs a C-speed check on each string that is not ASCII; well under
    a millisecond for a large Slack payload (bench/hostile.py)."""
    mended = False
    level: list[Any] = [body]
    for _ in range(MAX_DEPTH):
        below: list[Any] = []
        for node in level:
            for key, value in node.items() if isinstance(node, dict) else enumerate(node):
                if isinstance(value, str) and not value.isascii() and _LONE_SURROGATE.search(value):
                    node[key], mended = _LONE_SURROGATE.sub("\ufffd", value), True
                elif isinstance(value, float) and not math.isfinite(value):
                    return "a number JSON does not have (NaN, Infinity)", mended
                elif isinstance(value, dict | list):
                    below.append(value)
        if not below:
            return None, mended
        level = below
    return f"nested deeper than {MAX_DEPTH}", mended


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _ping_db(deps: Deps) -> None:
    with deps.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def _check(probe: Any) -> str:
    """`ok`, or the error that made the probe fail; /healthz answers either way."""
    try:
        probe()
        return "ok"
    except (*REDIS_DOWN, *DATABASE_DOWN) as exc:
        return f"error: {type(exc).__name__}"
    except Exception as exc:  # a bug: /healthz still says degraded, and the log says why
        unexpected(log, "healthz.failed", where="healthz")
        return f"error: {type(exc).__name__}"
