"""The HTTP surface: `POST /slack/events`, `GET /healthz`, `GET /metrics`, and with OAuth
`GET /slack/install` and `GET /slack/oauth_redirect`.

Signatures are checked here, once, before Bolt parses anything (the Bolt app's own check is
off, see app/main.py), so a missing, bad or stale signature is a 401 and a validly signed body
that cannot be parsed is a 400 (plain Bolt would answer 500).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import structlog
from flask import Flask, Response, jsonify, request
from slack_bolt import App, BoltRequest
from slack_bolt.adapter.flask.handler import SlackRequestHandler, to_flask_response
from sqlalchemy import text

from integrations.deps import Deps
from integrations.failures import DATABASE_DOWN, REDIS_DOWN, unexpected
from workers import metrics

log = structlog.get_logger(__name__)


def create_web(bolt: App, deps: Deps) -> Flask:
    """The WSGI app serving Slack's requests and the operational endpoints."""
    secret = deps.settings.slack_signing_secret
    secret_bytes = secret.get_secret_value().encode() if secret else b""
    web = Flask("triage")

    @web.post("/slack/events")
    def slack_events() -> Response:
        started = time.perf_counter()
        raw = request.get_data()
        if not _signed(secret_bytes, raw, request.headers):
            metrics.EVENTS.labels(kind="rejected").inc()
            return Response("invalid signature", status=401)
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
            return oauth.handle(request)  # type: ignore[no-any-return]

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


def _signed(secret: bytes, raw: bytes, headers: Any) -> bool:
    """Slack's v0 signature and 5-minute freshness check, on the raw bytes.

    Not slack_sdk's SignatureVerifier: it decodes the body as UTF-8 and int()s the timestamp,
    so a request without the headers, with a timestamp like `abc`, or with a signed body that
    is not UTF-8 would raise (a 500) instead of being refused (401) or found malformed (400).
    Bytes are compared, not strings: `compare_digest` raises on a non-ASCII header string.
    """
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not secret or not (timestamp.isascii() and timestamp.isdigit()):
        return False
    if abs(time.time() - int(timestamp)) > 300:
        return False
    digest = hmac.new(secret, b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256)
    return hmac.compare_digest(b"v0=" + digest.hexdigest().encode(), signature.encode())


# What parsing a body that is not a Slack payload raises: UnicodeDecodeError and
# JSONDecodeError (ValueErrors), and Bolt reading fields of a list, a string or a number.
_MALFORMED = (ValueError, TypeError, AttributeError, KeyError, IndexError)


def _parse(raw: bytes, query: bytes, headers: dict[str, Any]) -> BoltRequest | None:
    """A BoltRequest, or None when the body is not a Slack payload we can read."""
    try:
        parsed = BoltRequest(body=raw.decode("utf-8"), query=query.decode("utf-8"), headers=headers)
    except _MALFORMED as exc:
        log.warning("request.malformed", error=type(exc).__name__)
        return None
    body = parsed.body
    if not isinstance(body, dict) or not isinstance(body.get("type") or body.get("command"), str):
        log.warning("request.malformed", error="no payload type")
        return None
    event = body.get("event")
    if body.get("type") == "event_callback" and not (
        isinstance(event, dict) and isinstance(event.get("type"), str)
    ):  # Bolt's authorization reads event fields before any listener could refuse it
        log.warning("request.malformed", error="event_callback without an event")
        return None
    return parsed


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
