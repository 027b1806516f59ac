"""A local OpenAI-compatible server: the tests' and the demo's model (a developer tool).

Speaks the Chat Completions wire format (`POST /v1/chat/completions`, structured output through
`response_format: {"type": "json_schema", ...}`), records every request body so tests can
assert what was (and was not) sent, and injects faults: HTTP errors with OpenAI's error body,
429 with `Retry-After`, and hangs longer than the client's timeout.

The answers are deterministic and simple: a triage from the app's own offline rules, and a
draft that restates the question and quotes the first grounding example it was given.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

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
    ) -> None:
        self.responder = responder or default_responder
        self.api_key = api_key  # when set, other keys get OpenAI's 401
        self.models = models
        self._lock = threading.Lock()
        self._requests: list[dict[str, Any]] = []
        self._faults: list[_Fault] = []
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    def start(self) -> OpenAIServer:
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
            return Response(json.dumps(listing), 200, content_type="application/json")(
                environ, start_response
            )
        if request.method != "POST" or not request.path.endswith("/chat/completions"):
            return _error(404, f"no route {request.path}", "not_found")(environ, start_response)
        try:
            body = json.loads(request.get_data() or b"{}")
        except ValueError:
            return _error(400, "invalid JSON", "invalid_request_error")(environ, start_response)
        with self._lock:
            self._requests.append(body)
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
        return Response(json.dumps(self._completion(body)), 200, content_type="application/json")(
            environ, start_response
        )

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


def _error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"message": message, "type": code, "param": None, "code": code}}
    return Response(
        json.dumps(body), status, headers=headers or {}, content_type="application/json"
    )


def last_user_text(body: dict[str, Any]) -> str:
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    content = users[-1].get("content", "") if users else ""
    return content if isinstance(content, str) else json.dumps(content)


def default_responder(schema: str, body: dict[str, Any]) -> dict[str, Any]:
    """Deterministic answers shaped like the app's structured outputs."""
    text = last_user_text(body)
    if schema == "TriageResult":
        from workers.triage import classify_offline

        result = classify_offline(_inside_fence(text))
        return result.model_dump(mode="json")
    if schema == "DraftResult":
        system = "\n".join(
            str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "system"
        )
        example = _first_example(system)
        reply = (
            ("Thanks for the question! " + example)
            if example
            else (
                "Thanks for the details. We're checking this now and will follow up in this thread."
            )
        )
        return {
            "reply": reply,
            "confidence": 0.8 if example else 0.4,
            "needs_expert": not example,
            "sources": ["example-1"] if example else [],
        }
    return {}


def _inside_fence(text: str) -> str:
    lines = text.splitlines()
    inside = [ln for ln in lines if not ln.startswith("<<<")]
    return "\n".join(inside)


def _first_example(system: str) -> str:
    marker = "Approved answer:"
    if marker not in system:
        return ""
    return system.split(marker, 1)[1].strip().splitlines()[0][:300]
