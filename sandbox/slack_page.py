"""A page on the emulator for trying the app by hand (`triage sandbox`).

``/`` in a browser (and ``/_sandbox/page``) shows the channels by name with their messages and
the app's cards drawn from their blocks (``sandbox.slack_page_layout``). What a person does on
the page reaches the app the way Slack would send it, signed with the emulator's
``signing_secret`` and POSTed to its ``event_url`` (the app serves the Events API and
interactivity at one URL, ``/slack/events``):

- a post is stored, then sent as the ``message`` event;
- a click on a card's button is a ``block_actions`` request, with a response_url bound to the
  message (so ``replace_original`` and ephemeral answers land where Slack would put them);
- a modal the app opens with ``views.open`` is shown with its inputs, and submitted as a
  ``view_submission`` (``response_action`` errors, update and clear are honoured).

When the app does not answer (not started, wrong secret) the page says so and logs
``sandbox.app_not_answering`` / ``sandbox.app_refused``. API clients asking for ``/`` (no
``text/html`` in Accept) still get the emulator's JSON overview.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import structlog
from werkzeug.wrappers import Request, Response

from sandbox.slack_args import blocks_with_ids
from sandbox.slack_emulator import SlackEmulator
from sandbox.slack_events import deliver
from sandbox.slack_html import field_name
from sandbox.slack_interactivity import block_actions_payload, form_body, view_submission_payload
from sandbox.slack_page_layout import (
    CLICK,
    CLOSE,
    PAGE,
    POST,
    SUBMIT,
    Choice,
    Modal,
    default_choice,
    page_html,
)
from sandbox.slack_state import SlackError

log = structlog.get_logger(__name__)


def install_page(emu: SlackEmulator) -> str:
    """Serve the page from the emulator; returns its URL (once the emulator is started)."""
    page = SandboxPage(emu)
    emu._api.extra_routes.update(page.routes())
    return f"{emu.base_url}{PAGE}" if emu._server is not None else PAGE


class SandboxPage:
    """The page's routes, and what it remembers: which modals were closed or answered."""

    def __init__(self, emu: SlackEmulator):
        self.emu = emu
        self._lock = threading.Lock()
        self._closed: set[str] = set()
        self._answers: dict[str, tuple[dict[str, str], dict[str, str]]] = {}  # typed, errors
        self._replaced: dict[str, dict[str, Any]] = {}  # response_action update / push
        self._openers: dict[str, str] = {}  # trigger_id -> who clicked

    def routes(self) -> dict[str, Callable[[Request], Response]]:
        """Paths served on the emulator, and their handlers."""
        return {
            "/": self.home,
            PAGE: lambda request: self.show(default_choice(self.emu._world, request.args)),
            POST: self.post,
            CLICK: self.click,
            SUBMIT: self.submit,
            CLOSE: self.close,
        }

    def home(self, request: Request) -> Response:
        """A browser goes to the page; API clients keep the JSON overview."""
        if "text/html" in request.headers.get("Accept", ""):
            return Response("", 302, headers={"Location": PAGE})
        return self.emu._api.overview(request, messages=False)

    def show(self, choice: Choice, notice: str = "", status: int = 200) -> Response:
        """The page, with a ``notice`` on top (what went wrong with the last action)."""
        body = page_html(self.emu, choice, self.modals(), notice, self._delivery())
        return Response(body, status, content_type="text/html; charset=utf-8")

    # -- actions --------------------------------------------------------------------------

    def post(self, request: Request) -> Response:
        """Store a message as its author, then send the app its ``message`` event."""
        form, emu = request.form, self.emu
        choice = default_choice(emu._world, form)
        channel, user, text = form.get("channel", ""), form.get("user", ""), form.get("text", "")
        chosen = (channel, user) == (choice.channel, choice.user)  # both exist
        if request.method != "POST" or not chosen or not text.strip():
            return self.show(choice, "Choose a channel and a person, and type a message.", 400)
        message = emu.post_as_user(channel, user, text, thread_ts=form.get("thread_ts") or None)
        if emu.event_url and emu.signing_secret:
            event = emu.message_event(channel, message["ts"])
            problem, _ = self._send(event, f"your message (stored in #{self._name(channel)})")
            if problem:
                return self.show(choice, problem, 502)
        return _redirect(choice.url(f"m{message['ts']}"))

    def click(self, request: Request) -> Response:
        """A click on a card's button: the ``block_actions`` request Slack would send."""
        form, emu, world = request.form, self.emu, self.emu._world
        choice = default_choice(world, {**_query(form.get("back", "")), "as": form.get("as", "")})
        channel, ts, user = form.get("channel", ""), form.get("ts", ""), choice.clicker
        message = emu.find_message(channel, ts) if channel in world.channels else None
        element = _element(message, form.get("block_id", ""), form.get("action_id", ""))
        if message is None or element is None:
            return self.show(choice, "That button is no longer on the message.", 409)
        with world.lock:
            team = world.team_of(user)
            name = str(world.users.get(user, {}).get("name") or user)
        response_url = emu.response_url(
            f"page-{time.time_ns()}",
            channel=channel,
            message_ts=ts,
            user=user,
            thread_ts=message.get("thread_ts"),
        )
        payload = block_actions_payload(
            user_id=user,
            user_team_id=team,
            team_id=team,
            channel_id=channel,
            message_ts=ts,
            message=message,
            action_id=str(element.get("action_id")),
            block_id=form.get("block_id", ""),
            value=element.get("value"),
            response_url=response_url,
            user_name=name,
            api_app_id=emu.app_id,
        )
        with self._lock:
            self._openers[payload["trigger_id"]] = user
        problem, _ = self._send(form_body(payload), "the click")
        if problem:
            return self.show(choice, problem, 502)
        return _redirect(form.get("back") or choice.url())

    def submit(self, request: Request) -> Response:
        """Submit a modal: the ``view_submission`` request, and what the app answered."""
        form, world = request.form, self.emu._world
        choice = default_choice(world, {**_query(form.get("back", "")), "as": form.get("as", "")})
        view_id = form.get("view_id", "")
        modal = next((m for m in self.modals() if m.view.get("id") == view_id), None)
        if modal is None:
            return self.show(choice, "That modal is closed.", 409)
        typed, values = _values(modal.view, form)
        user = modal.user or choice.clicker
        with world.lock:
            team = world.team_of(user)
        payload = view_submission_payload(
            user_id=user,
            user_team_id=team,
            team_id=team,
            view=modal.view,
            values=values,
            app_installed_team_id=self.emu.team_id,
            api_app_id=self.emu.app_id,
        )
        problem, answer = self._send(form_body(payload), "the modal's submission")
        with self._lock:
            self._answers[view_id] = (typed, {})
        if problem:
            return self.show(choice, problem, 502)
        try:
            self._apply(view_id, json.loads(answer) if answer.strip() else {}, typed)
        except (ValueError, TypeError, KeyError, AttributeError, SlackError):
            log.warning("sandbox.modal_answer_unreadable", view_id=view_id, answer=answer[:200])
            return self.show(
                choice,
                "The app answered the submission with something else "
                "than Slack's response_action JSON: see the app's log.",
                502,
            )
        return _redirect(choice.url())

    def close(self, request: Request) -> Response:
        """Cancel a modal (the app is not told: none of its modals asks for notify_on_close)."""
        with self._lock:
            self._closed.add(request.form.get("view_id", ""))
        return _redirect(request.form.get("back") or PAGE)

    # -- state ----------------------------------------------------------------------------

    def modals(self) -> list[Modal]:
        """Modals the app opened that are still open, newest first."""
        world = self.emu._world
        with world.lock:
            opened = [
                (e["view"]["id"], e["trigger_id"])
                for e in world.view_log
                if e["method"] == "views.open"
            ]
            current = {view_id: world.views.get(view_id) for view_id, _ in opened}
        with self._lock:
            shown = []
            for view_id, trigger_id in reversed(opened):
                view = self._replaced.get(view_id) or current[view_id]
                if view_id in self._closed or view is None:
                    continue
                typed, errors = self._answers.get(view_id, ({}, {}))
                shown.append(Modal(view, self._openers.get(trigger_id, ""), typed, errors))
            return shown

    def _apply(self, view_id: str, answer: dict[str, Any], typed: dict[str, str]) -> None:
        """Honour a view_submission answer: errors keep the modal open, update replaces it."""
        action = answer.get("response_action")
        with self.emu._world.lock:
            shown = self.emu._world.views.get(view_id, {})
        with self._lock:
            if action == "errors":
                self._answers[view_id] = (
                    typed,
                    {str(k): str(v) for k, v in answer["errors"].items()},
                )
            elif action in ("update", "push"):  # a pushed view is shown in place of the first
                old = self._replaced.get(view_id) or shown
                view = dict(answer["view"])
                view["blocks"] = blocks_with_ids(view.get("blocks", []))
                self._replaced[view_id] = {**old, **view, "id": view_id}
                self._answers.pop(view_id, None)
            elif action == "clear":
                self._closed.update(e["view"]["id"] for e in self.emu.views())
            else:
                self._closed.add(view_id)

    def _send(self, body: dict[str, Any] | bytes, what: str) -> tuple[str, bytes]:
        """Sign and POST to the app; returns (what went wrong for the page, or "", its answer)."""
        url, secret = self.emu.event_url, self.emu.signing_secret
        if not url or not secret:
            return "The sandbox has no app URL: start `triage sandbox --app-url URL`.", b""
        try:
            status, answer = deliver(url, body, secret, timeout=10)
        except OSError as error:
            reason = str(getattr(error, "reason", error))
            log.warning("sandbox.app_not_answering", url=url, error=reason)
            return self._not_answering(url, reason, what), b""
        if status >= 300:
            log.warning("sandbox.app_refused", url=url, status=status, answer=answer[:200])
            hint = {
                401: "its SLACK_SIGNING_SECRET is not the sandbox's "
                f"(start it with SLACK_SIGNING_SECRET={secret})",
                404: "is that the app's /slack/events URL? (`triage sandbox --app-url`)",
            }.get(status, "see the app's log")
            return f"The app at {url} refused {what} with HTTP {status}: {hint}.", answer
        return "", answer

    def _not_answering(self, url: str, reason: str, what: str) -> str:
        port = urlsplit(url).port
        serve = "triage serve" + (f" --port {port}" if port and port != 3000 else "")
        return (
            f"The app is not answering at {url} ({reason}), so it did not get {what}.\n"
            f"Start the app in another terminal with the settings `triage sandbox` printed "
            f"(SLACK_API_URL={self.emu.api_url} SLACK_SIGNING_SECRET={self.emu.signing_secret} "
            f"...): `{serve}` receives posts and clicks, `triage worker` drafts the cards. "
            "Then try again."
        )

    def _delivery(self) -> str:
        if self.emu.event_url and self.emu.signing_secret:
            return f"posts and clicks go to the app at {self.emu.event_url}"
        return "no app URL: posts are stored, not sent to an app"

    def _name(self, channel: str) -> str:
        with self.emu._world.lock:
            return str(self.emu._world.channels[channel]["name"])


def _redirect(location: str) -> Response:
    return Response("", 303, headers={"Location": location})


def _query(url: str) -> dict[str, str]:
    """The query parameters of a page URL carried in a form's ``back`` field."""
    return dict(parse_qsl(urlsplit(url).query))


def _element(
    message: dict[str, Any] | None, block_id: str, action_id: str
) -> dict[str, Any] | None:
    """The button ``action_id`` of block ``block_id`` (a card has several pull_in buttons)."""
    for block in (message or {}).get("blocks") or []:
        if block.get("block_id") != block_id:
            continue
        candidates = [*(block.get("elements") or []), block.get("accessory")]
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return element
    return None


def _values(view: dict[str, Any], form: Any) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """What was typed in a modal's inputs, and Slack's ``state.values`` for it."""
    typed: dict[str, str] = {}
    values: dict[str, dict[str, Any]] = {}
    for block in view.get("blocks") or []:
        element = block.get("element") or {}
        if block.get("type") != "input" or not element.get("action_id"):
            continue
        block_id, action_id = str(block["block_id"]), str(element["action_id"])
        value = form.get(field_name(block_id, action_id), "")
        typed[field_name(block_id, action_id)] = value
        if element.get("type") == "static_select":
            option = next(
                (o for o in element.get("options") or [] if o.get("value") == value), None
            )
            state: Any = {"type": "static_select", "selected_option": option}
        elif element.get("type") == "plain_text_input":
            state = value or None  # Slack sends null for an empty input
        else:
            continue
        values.setdefault(block_id, {})[action_id] = state
    return typed, values
