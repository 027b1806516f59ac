"""The HTTP face of the Slack emulator (developer tool / tests' fake Slack).

``SlackApi`` is a WSGI application speaking the Web API wire format: ``/api/<method>`` with the
token in ``Authorization: Bearer`` or a ``token`` argument, arguments in the query string, a
form body (urlencoded or multipart) or a JSON body. It records every call, applies Slack's
rate limits when asked (``sandbox.slack_limits``), injected faults and latency, checks arguments
against the spec, then dispatches to the handlers.
It also serves ``/response_url/<name>`` (Slack's interactivity response URLs) and hosted
files at ``/files-pri/...`` (``sandbox.slack_files``); ``extra_routes`` serve the sandbox
page (``sandbox.slack_page``) and the OAuth consent screen.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from sandbox.slack_args import decode_json_arguments
from sandbox.slack_files import FILES_PREFIX, SIGN_IN, FileStore
from sandbox.slack_limits import POST_MESSAGE, RateLimiter
from sandbox.slack_methods_chat import CHAT_METHODS, Handler, apply_response_url
from sandbox.slack_methods_read import READ_METHODS
from sandbox.slack_methods_views import VIEW_METHODS
from sandbox.slack_oauth import OAuthServer
from sandbox.slack_spec import check_call, known_method
from sandbox.slack_state import Caller, SlackError, World

logger = logging.getLogger(__name__)

HANDLERS: dict[str, Handler] = {**CHAT_METHODS, **READ_METHODS, **VIEW_METHODS}

#: Called after a successful call, outside the lock: (method, caller, args, answer).
AfterCall = Callable[[str, Caller, dict[str, Any], dict[str, Any]], None]


@dataclass
class Call:
    """One recorded Web API call (``args`` merged from query, form and JSON bodies).

    ``at``: arrival (``time.time()``). ``status``: the HTTP status answered, 0 while the call
    is in flight (recorded on arrival so a test sees a slow call); ``answered``: when it was
    answered. ``early``: it came before the end of a Retry-After the rate limiter had given for
    its key (``sandbox.slack_limits``).
    """

    method: str
    args: dict[str, Any]
    token: str | None
    at: float
    status: int = 0
    early: bool = False
    answered: float = 0.0


@dataclass
class Fault:
    """An injected failure for the next ``times`` calls of a method."""

    error: str | None
    status: int
    retry_after: int | None
    times: int
    delay: float


class QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug request handler that logs to this module's logger at DEBUG level."""

    def log(self, type: str, message: str, *args: Any) -> None:
        """Route werkzeug's access/error log lines to ``logging`` at DEBUG level."""
        logger.debug("%s: %s", type, message % args if args else message)


def _json_response(body: dict[str, Any], status: int = 200, headers: dict | None = None):
    return Response(
        json.dumps(body),
        status=status,
        headers=headers or {},
        content_type="application/json; charset=utf-8",
    )


def parse_arguments(request: Request) -> tuple[dict[str, Any], str | None]:
    """Return ``(args, token)`` from a Web API request; raises ``SlackError`` on a bad body."""
    args: dict[str, Any] = dict(request.args.items())
    args.update(request.form.items())
    # slack_sdk sends auth.test with "Content-Type: application/json" and an empty body.
    if request.is_json and request.get_data().strip():
        body = request.get_json(silent=True)
        if body is None:
            raise SlackError("invalid_json")
        if not isinstance(body, dict):
            raise SlackError("json_not_object")
        args.update(body)
    token = args.pop("token", None)
    authorization = request.headers.get("Authorization", "")
    if authorization.lower().startswith("bearer "):
        token = authorization[7:].strip() or token
    return decode_json_arguments(args), token


class SlackApi:
    """WSGI application: recording, faults, latency, strict checking and dispatch."""

    def __init__(
        self,
        world: World,
        *,
        strict: bool = True,
        after_call: AfterCall | None = None,
        limits: float | None = None,
    ):
        self.world = world
        self.strict = strict
        # None: no limiter at all, so an emulator without limits pays nothing for them
        self.limiter = RateLimiter(limits) if limits is not None else None
        self.after_call = after_call
        self.calls: list[Call] = []
        self.faults: dict[str, list[Fault]] = {}
        self.latency: dict[str, float] = {}
        self.spec_violations: list[str] = []
        self.extra_routes: dict[str, Callable[[Request], Response]] = {}  # e.g. slack_page
        self.oauth: OAuthServer | None = None  # SlackEmulator.enable_oauth
        self.files = FileStore(world)
        self.handlers: dict[str, Handler] = {**HANDLERS, "files.info": self.files.files_info}
        self._lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        """WSGI entry point."""
        request = Request(environ)
        path = request.path
        if path.startswith("/api/"):
            response = self.api_call(path[len("/api/") :], request)
        elif path.startswith("/response_url/") and request.method == "POST":
            response = self.response_url_post(path[len("/response_url/") :], request)
        elif path.startswith(FILES_PREFIX) or path == SIGN_IN:
            expired = self.oauth.expired if self.oauth is not None else None
            response = self.files.serve(request, expired)
        elif path in self.extra_routes:
            response = self.extra_routes[path](request)
        elif path in ("/", "/_sandbox/messages"):
            response = self.overview(request, messages=path != "/")
        else:
            response = Response("not found", status=404, content_type="text/plain")
        return response(environ, start_response)

    def add_fault(self, method: str, fault: Fault) -> None:
        """Queue a fault for ``method`` (consumed one call at a time)."""
        with self._lock:
            self.faults.setdefault(method, []).append(fault)

    def set_latency(self, method: str, seconds: float) -> None:
        """Make every call of ``method`` sleep ``seconds`` first (0 clears it)."""
        with self._lock:
            self.latency[method] = seconds

    def recorded_calls(self, method: str | None = None) -> list[Call]:
        """Recorded calls, oldest first (only those of ``method`` when given)."""
        with self._lock:
            return [c for c in self.calls if method is None or c.method == method]

    def clear_calls(self) -> None:
        """Forget the recorded calls."""
        with self._lock:
            self.calls.clear()

    def violations(self) -> list[str]:
        """Spec violations seen so far."""
        with self._lock:
            return list(self.spec_violations)

    def _take_fault(self, method: str) -> Fault | None:
        with self._lock:
            queue = self.faults.get(method)
            if not queue:
                return None
            fault = queue[0]
            fault.times -= 1
            if fault.times <= 0:
                queue.pop(0)
            return fault

    def api_call(self, method: str, request: Request) -> Response:
        """Handle ``/api/<method>``."""
        try:
            args, token = parse_arguments(request)
        except SlackError as error:
            return _json_response({"ok": False, "error": error.error})
        call = Call(method, copy.deepcopy(args), token, time.time())
        with self._lock:
            self.calls.append(call)
        response = self._answer(method, request, args, token, call)
        call.status, call.answered = response.status_code, time.time()
        return response

    def _answer(
        self, method: str, request: Request, args: dict[str, Any], token: str | None, call: Call
    ) -> Response:
        """Rate limits (on arrival, as Slack counts), latency, faults, then the method itself."""
        if self.limiter is not None:
            refusal = self._rate_limit(method, args, token, call)
            if refusal is not None:
                return refusal
        with self._lock:
            delay = self.latency.get(method, 0.0)
        if delay > 0:
            time.sleep(delay)
        fault = self._take_fault(method)
        if fault is not None:
            if fault.delay > 0:
                time.sleep(fault.delay)
            if fault.error is not None:
                headers = {}
                if fault.retry_after is not None:
                    headers["Retry-After"] = str(fault.retry_after)
                elif fault.status == 429:
                    headers["Retry-After"] = "1"
                body = {"ok": False, "error": fault.error}
                return _json_response(body, fault.status, headers)
        if method == "oauth.v2.access" and self.oauth is not None:
            return self._oauth_access(request, args)
        status, answer, caller = self._dispatch(method, args, token)
        if answer.get("ok") and caller is not None and self.after_call is not None:
            try:
                self.after_call(method, caller, args, answer)
            except Exception:  # a hook must never break the API answer
                logger.exception("after_call hook failed for %s", method)
        return _json_response(answer, status)

    def _rate_limit(
        self, method: str, args: dict[str, Any], token: str | None, call: Call
    ) -> Response | None:
        """Slack's 429 when the calling token's workspace is over ``method``'s limit, else None.

        Calls without a known token are left to ``_dispatch`` (``not_authed``, ``invalid_auth``).
        postMessage is also limited per channel, keyed by the ``channel`` argument as sent."""
        assert self.limiter is not None
        with self.world.lock:
            caller = self.world.tokens.get(token or "")
        if caller is None:
            return None
        channel = str(args.get("channel") or "") if method == POST_MESSAGE else None
        verdict = self.limiter.check(caller.team_id, method, channel)
        call.early = verdict.early
        if verdict.retry_after is None:
            return None
        body = {"ok": False, "error": "ratelimited"}
        return _json_response(body, 429, {"Retry-After": str(verdict.retry_after)})

    def _oauth_access(self, request: Request, args: dict[str, Any]) -> Response:
        """oauth.v2.access: the app authenticates itself, not with a token."""
        assert self.oauth is not None
        violations = [
            v
            for v in check_call("oauth.v2.access", args)
            if not (args.get("grant_type") == "refresh_token" and "'code'" in v)
        ]  # the spec predates token rotation, whose refresh grant has no code
        if violations:
            with self._lock:
                self.spec_violations.extend(violations)
            if self.strict:
                answer = {"ok": False, "error": "invalid_arguments"}
                return _json_response({**answer, "response_metadata": {"messages": violations}})
        try:
            return _json_response({"ok": True, **self.oauth.access(request, args)})
        except SlackError as error:
            return _json_response({"ok": False, "error": error.error}, error.status)

    def _dispatch(
        self, method: str, args: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, Any], Caller | None]:
        world = self.world
        with world.lock:
            if not token:
                return 200, {"ok": False, "error": "not_authed"}, None
            caller = world.tokens.get(token)
            if caller is None:
                return 200, {"ok": False, "error": "invalid_auth"}, None
            if self.oauth is not None and self.oauth.expired(token):
                return 200, {"ok": False, "error": "token_expired"}, None
            violations = check_call(method, args)
            if violations:
                with self._lock:
                    self.spec_violations.extend(violations)
                if not known_method(method):
                    answer = {"ok": False, "error": "unknown_method"}
                    return 200, {**answer, "response_metadata": {"messages": violations}}, caller
                if self.strict:
                    error = {"messages": violations}
                    answer = {"ok": False, "error": "invalid_arguments"}
                    return 200, {**answer, "response_metadata": error}, caller
            handler = self.handlers.get(method)
            if handler is None:
                note = f"[sandbox] {method} is not emulated"
                answer = {"ok": False, "error": "unknown_method"}
                return 200, {**answer, "response_metadata": {"messages": [note]}}, caller
            try:
                return 200, {"ok": True, **handler(world, caller, args)}, caller
            except SlackError as error:
                return error.status, {"ok": False, "error": error.error, **error.extra}, caller

    def response_url_post(self, name: str, request: Request) -> Response:
        """Handle a POST to a response_url: JSON body (or form ``payload=``) like Slack."""
        payload: Any = request.get_json(silent=True, force=True)
        if payload is None and "payload" in request.form:
            payload = json.loads(request.form["payload"])
        if not isinstance(payload, dict):
            return Response("invalid_payload", status=400, content_type="text/plain")
        with self.world.lock:
            try:
                apply_response_url(self.world, name, payload)
            except SlackError as error:
                return Response(error.error, status=404, content_type="text/plain")
        return Response("ok", content_type="text/html")

    def overview(self, request: Request, *, messages: bool) -> Response:
        """JSON for scripts: ``/`` lists channels, ``/_sandbox/messages`` dumps every message.

        With ``sandbox.slack_page`` installed, ``/`` sends a browser to the page instead."""
        world = self.world
        with world.lock:
            if messages:
                body: dict[str, Any] = {
                    channel: [world.render(channel, m) for m in stored.values()]
                    for channel, stored in world.messages.items()
                }
            else:
                body = {
                    "api_url": f"{world.base_url}/api/",
                    "channels": sorted(world.channels),
                    "users": sorted(world.users),
                    "calls": len(self.calls),
                }
        return _json_response(body)
