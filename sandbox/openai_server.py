"""A local OpenAI-compatible server: the tests' and the demo's model (a developer tool).

Speaks the Chat Completions wire format (`POST /v1/chat/completions`, structured output through
`response_format: {"type": "json_schema", ...}`) and Embeddings' (`openai_embeddings.py`),
records every request body so tests can assert what was (and was not) sent, and injects faults:
HTTP errors with OpenAI's error body, 429 with `Retry-After`, and hangs longer than the
client's timeout. `latency` makes every completion take that long, as a real model does.

Content may be a string or a list of parts (`text`, `image_url`); images are checked as OpenAI
checks them (user turns only; PNG, JPEG, GIF or WebP; a data URL must decode) and refused with
400 like OpenAI's, or refused outright by a text-only model (`vision=False`). `sent_images`
decodes what a request carried, for tests to assert on.

The answers are deterministic and simple: a triage from the app's own offline rules, and a
draft that restates the question and quotes the first grounding example it was given.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from sandbox.openai_embeddings import Embeddings

Responder = Callable[[str, dict[str, Any]], dict[str, Any]]


@dataclass
class _Fault:
    status: int
    times: int
    retry_after: float | None = None
    hang: float = 0.0


class OpenAIServer:
    """`with OpenAIServer() as model: OpenAI(base_url=model.base_url, api_key="test")`."""

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        api_key: str | None = None,
        models: tuple[str, ...] = ("gpt-4o-mini", "gpt-4o"),
        vision: bool = True,
        latency: float = 0.0,
    ) -> None:
        self.responder = responder or default_responder
        self.vision = vision  # False: a text-only model, which answers 400 to any image
        self.api_key = api_key  # when set, other keys get OpenAI's 401
        self.models = models
        # Seconds every completion takes, as a real model thinks; requests wait concurrently
        # (one thread each), so calls in flight overlap as they do against OpenAI.
        self.latency = latency
        self._lock = threading.Lock()
        self._requests: list[dict[str, Any]] = []
        self._faults: list[_Fault] = []
        self.embeddings = Embeddings()  # POST /v1/embeddings: its vectors, requests and faults
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    def start(self) -> OpenAIServer:
        if self.responder is default_responder:  # load its encoder now (seconds when busy),
            _triage("warm up")  # not in the first completion, past a client's short timeout
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- inspection and faults ---------------------------------------------------------------
    def requests(self) -> list[dict[str, Any]]:
        """Every request body received, oldest first (including ones answered with a fault)."""
        with self._lock:
            return [json.loads(json.dumps(r)) for r in self._requests]

    def fail(self, status: int = 500, *, times: int = 1, retry_after: float | None = None) -> None:
        """Answer the next `times` requests with `status` and OpenAI's error body."""
        with self._lock:
            self._faults.append(_Fault(status, times, retry_after))

    def hang(self, seconds: float, *, times: int = 1) -> None:
        """Sleep `seconds` before answering the next `times` requests (to exceed a timeout)."""
        with self._lock:
            self._faults.append(_Fault(200, times, hang=seconds))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # --- the wire ------------------------------------------------------------------------------
    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if self.api_key and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided", "invalid_api_key")(
                environ, start_response
            )
        if request.method == "GET" and request.path.endswith("/models"):
            listing = {
                "object": "list",
                "data": [
                    {"id": m, "object": "model", "created": 0, "owned_by": "local"}
                    for m in self.models
                ],
            }
            return _json(listing)(environ, start_response)
        if request.method == "POST" and request.path.endswith("/embeddings"):
            return self.embeddings.serve(request)(environ, start_response)
        if request.method != "POST" or not request.path.endswith("/chat/completions"):
            return _error(404, f"no route {request.path}", "not_found")(environ, start_response)
        try:
            body = json.loads(request.get_data() or b"{}")
        except ValueError:
            return _error(400, "invalid JSON", "invalid_request_error")(environ, start_response)
        with self._lock:
            self._requests.append(body)
        if self.latency > 0:
            time.sleep(self.latency)
        problem = _check_images(body, vision=self.vision)
        if problem:
            return _error(400, problem, "invalid_request_error")(environ, start_response)
        with self._lock:
            fault = self._faults[0] if self._faults else None
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.pop(0)
        if fault is not None and fault.hang:
            time.sleep(fault.hang)
        elif fault is not None:
            headers = {"retry-after": str(fault.retry_after)} if fault.retry_after else {}
            kind = "rate_limit_exceeded" if fault.status == 429 else "server_error"
            return _error(fault.status, f"injected {fault.status}", kind, headers)(
                environ, start_response
            )
        return _json(self._completion(body))(environ, start_response)

    def _completion(self, body: dict[str, Any]) -> dict[str, Any]:
        schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("name", "")
        content = json.dumps(self.responder(schema, body))
        prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "local"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_chars // 4,
                "completion_tokens": len(content) // 4,
                "total_tokens": (prompt_chars + len(content)) // 4,
            },
        }


def _json(payload: dict[str, Any]) -> Response:
    return Response(json.dumps(payload), 200, content_type="application/json")


def _error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"message": message, "type": code, "param": None, "code": code}}
    return Response(
        json.dumps(body), status, headers=headers or {}, content_type="application/json"
    )


@dataclass(frozen=True)
class SentImage:
    """An image part of a request: which message carried it, its type and its bytes."""

    message: int  # index in `messages`
    role: str
    mimetype: str
    data: bytes


_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def sent_images(body: dict[str, Any]) -> list[SentImage]:
    """The data-URL images of a recorded request body, in order."""
    found = []
    for index, message in enumerate(body.get("messages", [])):
        content = message.get("content")
        for part in content if isinstance(content, list) else []:
            url = str((part.get("image_url") or {}).get("url", ""))
            if part.get("type") == "image_url" and url.startswith("data:"):
                header, _, data = url[len("data:") :].partition(",")
                role, mimetype = str(message.get("role")), header.split(";")[0]
                found.append(SentImage(index, role, mimetype, base64.b64decode(data)))
    return found


def _check_images(body: dict[str, Any], *, vision: bool) -> str | None:
    """What OpenAI would refuse in the request's content parts (None: nothing)."""
    for message in body.get("messages", []):
        content = message.get("content")
        for part in content if isinstance(content, list) else []:
            if part.get("type") == "text":
                continue
            if part.get("type") != "image_url":
                return f"Invalid content part type: {part.get('type')!r}"
            if not vision:
                return "Invalid content type. image_url is only supported by certain models."
            if message.get("role") != "user":
                return (
                    "Image URLs are only allowed for messages with role 'user', but this "
                    f"message with role '{message.get('role')}' contains an image URL."
                )
            url = str((part.get("image_url") or {}).get("url", ""))
            if not url.startswith("data:"):
                continue  # an https URL: OpenAI fetches it; not checked here
            header, _, data = url[len("data:") :].partition(",")
            if header.split(";")[0] not in _IMAGE_TYPES or not header.endswith(";base64"):
                return "You uploaded an unsupported image. Use png, jpeg, gif or webp."
            try:
                base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                return "Invalid image data: the data URL is not valid base64."
    return None


def last_user_text(body: dict[str, Any]) -> str:
    """The text of the last user turn (its text parts, when it has images too)."""
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    content = users[-1].get("content", "") if users else ""
    if isinstance(content, str):
        return content
    return "\n".join(str(p.get("text", "")) for p in content if p.get("type") == "text")


def default_responder(schema: str, body: dict[str, Any]) -> dict[str, Any]:
    """Deterministic answers shaped like the app's structured outputs: the triage (by the
    offline rules), the draft, or both in one answer."""
    text = last_user_text(body)
    if schema == "TriageResult":
        return _triage(_inside_fence(text))
    if schema == "DraftResult":
        return _draft(body, _triage(_customer_words(text)))
    if schema == "TriagedDraft":
        triage = _triage(_customer_words(text))
        draft = _draft(body, triage) if triage["needs_reply"] else _no_reply()
        return {**triage, **draft}
    if schema == "KnowledgeArticle":  # a knowledge gap's questions and answers (triage gaps)
        from sandbox.article_responder import knowledge_article

        return knowledge_article(text)
    if schema == "IncidentUpdateDraft":  # the facts of an incident, as JSON
        facts = json.loads(text or "{}")
        if str(facts.get("kind", "")).startswith("closing"):
            return {"text": f"Resolved: {facts.get('affected')} works again. Thanks for waiting."}
        return {"text": f"Our engineers are investigating {facts.get('affected')}. More soon."}
    return {}


def _triage(text: str) -> dict[str, Any]:
    from workers.triage import classify_offline

    return classify_offline(text).model_dump(mode="json")


def _draft(body: dict[str, Any], triage: dict[str, Any]) -> dict[str, Any]:
    system = "\n".join(
        str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "system"
    )
    example = _first_example(system)
    asked = _asked_languages(system)
    reply = (
        ("Thanks for the question! " + example)
        if example
        else ("Thanks for the details. We're checking this now and will follow up in this thread.")
    )
    localized = asked[0] != "en" and not example
    if localized:  # the prompt asked for another language: say it in that one
        reply = _acknowledged(asked[0], triage)
    seen = [i for i in sent_images(body) if i.role == "user"]
    if seen:  # shows in tests that the images arrived where a model reads them
        reply += f" I can see the {len(seen)} image(s) you shared."
    return {
        "reply": reply,
        "confidence": 0.8 if example else 0.4,
        "needs_expert": not example,
        "sources": ["example-1"] if example else [],
        **_translations(body, asked, triage, reply if not localized else None),
    }


def _no_reply() -> dict[str, Any]:
    return {
        "reply": "",
        "confidence": 1.0,
        "needs_expert": False,
        "sources": [],
        "language": "en",
        "message_translation": "",
        "reply_translation": "",
    }


def _asked_languages(system: str) -> tuple[str, str]:
    """The reply's language and the team's, as the prompt's language instructions name them
    (workers.prompt.language_instructions); English for what they do not name."""
    from workers.language import LANGUAGES

    codes = {name: code for code, name in LANGUAGES.items()}
    reply = re.search(r"write `reply` in (\w+)", system)
    team = re.search(r"The support team reads (\w+)", system)
    return (
        codes.get(reply.group(1), "en") if reply else "en",
        codes.get(team.group(1), "en") if team else "en",
    )


def _acknowledged(language: str, triage: dict[str, Any]) -> str:
    """The offline drafter's acknowledgement in `language`, without its greeting."""
    from workers.acknowledgements import acknowledgement, greeting, phrases
    from workers.triage_types import Category, Urgency

    said, user = phrases(language), "U0CUSTOMER"
    text = acknowledgement(said, user, Category(triage["category"]), Urgency(triage["urgency"]))
    text = text.removeprefix(greeting(said, user))
    return text[:1].upper() + text[1:]


def _translations(
    body: dict[str, Any], asked: tuple[str, str], triage: dict[str, Any], english: str | None
) -> dict[str, Any]:
    """`language` and the translations the prompt asks for when the customer's language is
    not the team's. This server cannot translate: the message's "translation" is marked as
    a stand-in; the reply's is the same acknowledgement written in the team's language (or
    the reply itself when it is `english`, from an example, and the team reads English)."""
    language, team = asked
    if language == team:
        return {"language": language, "message_translation": "", "reply_translation": ""}
    words = _customer_words(last_user_text(body)).strip()
    in_team = _acknowledged(team, triage)
    if english is not None:
        in_team = english if team == "en" else f"[translation stand-in] {english}"
    return {
        "language": language,
        "message_translation": f"[translation stand-in from the local model server] {words}",
        "reply_translation": in_team,
    }


def _customer_words(text: str) -> str:
    """The customer's messages in a draft prompt's last turn: what is inside their fences."""
    words, inside = [], False
    for line in text.splitlines():
        if line.startswith("<<<DATA customer-message"):
            inside = True
        elif line.startswith("<<<END"):
            inside = False
        elif inside:
            words.append(line)
    return "\n".join(words)


def _inside_fence(text: str) -> str:
    return "\n".join(ln for ln in text.splitlines() if not ln.startswith("<<<"))


def _first_example(system: str) -> str:
    marker = "Approved answer:"
    if marker not in system:
        return ""
    return system.split(marker, 1)[1].strip().splitlines()[0][:300]
