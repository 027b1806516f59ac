"""How the listeners meet Bolt: `deps` bound to them, and payloads Bolt cannot route answered.

Bolt calls a listener with the arguments its parameter NAMES ask for (`ack`, `body`,
`context`, `respond`, `client`...): it reads them with `inspect.getfullargspec`, which on a
`functools.partial` leaves out the arguments already bound. So a listener takes `deps` as its
first parameter and is registered as `with_deps(listener, deps)`; Bolt sees only the rest.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import structlog
from pydantic import ValidationError
from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware

from app.listeners.payloads import ROUTING, problems
from integrations.deps import Deps

log = structlog.get_logger(__name__)


def with_deps(listener: Callable[..., Any], deps: Deps) -> Callable[..., Any]:
    """`listener` with `deps` as its first argument; Bolt injects the others by name.

    Positional on purpose: bound by keyword, every later parameter would become keyword-only
    and Bolt would inject nothing. The partial carries the listener's name: Bolt names
    listeners by it in its logs, and picks a lazy listener by it when one is run again in
    another process (its FaaS adapters)."""
    bound = functools.partial(listener, deps)
    bound.__name__ = listener.__name__  # type: ignore[attr-defined]
    return bound


class RoutablePayloads(Middleware):
    """Answers a payload whose routing fields do not parse with a 200, before Bolt reads them.

    Bolt picks a listener from `actions[0].action_id`, `view.callback_id`, `callback_id` or
    `event.type`, reading them by hand: `"actions": "x"` or a view without its `type` ends in
    a 500 (and a traceback) before any listener of ours could refuse it. Slack retries events
    answered with an error, and shows the person who clicked an error; neither helps with a
    payload that will never parse. Runs as a `Middleware` object, which Bolt calls directly
    (a middleware function would have its arguments built from the same bad payload)."""

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        body = req.body
        route = ROUTING.get(str(body.get("type"))) if isinstance(body, dict) else None
        if route is None:
            return next()
        try:
            route.model_validate(body)
        except ValidationError as exc:
            log.warning(
                "listener.bad_payload",
                payload=route.__name__,
                type=body["type"],
                error=problems(exc),
            )
            return BoltResponse(status=200, body="")
        return next()
