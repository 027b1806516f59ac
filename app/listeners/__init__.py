"""Bolt listeners, one module per Slack surface; each has `register(app, deps)`.

A listener is a named top-level function, registered the way Bolt's templates do
(`app.action(ActionId.APPROVE_DRAFT)(with_deps(approve_draft, deps))`): it parses the payload
into its model (`payloads`), calls one flow (`app.approval`, `app.escalation`,
`app.account_links`, `workers.*`) and answers. A reader finds it by name, and a test can call
it alone with a `Deps` and stand-ins for `ack` and `respond`.

How a listener gets `deps`: `functools.partial`, `deps` bound as the first argument
(`wiring.with_deps`). Bolt injects arguments by parameter name and reads the names of a
partial without the bound ones, for ack functions and lazy listeners alike. Two other ways
were weighed and left:
- `context["deps"] = deps` from a middleware: Bolt deep-copies the context for every lazy
  listener and drops, with a warning, what does not copy. `Deps` does not (its clients hold
  pools and modules), so the lazy listeners (`/triage link`, all of escalation) would get no
  `deps` at all.
- a class whose methods are the listeners: it works (Bolt skips `self`), but the listeners stop
  being plain functions one can import and call.

Payloads Bolt itself cannot route (`"actions": "x"`, a view without a type) are answered by
`wiring.RoutablePayloads` before Bolt reads them; those a listener cannot parse, by the
listener (`payloads.parse`). Both log `listener.bad_payload` and answer 200.
"""

from __future__ import annotations

from slack_bolt import App

from app.listeners import actions, commands, csat, escalate, events, incidents, views
from app.listeners.wiring import RoutablePayloads
from integrations.deps import Deps


def register_all(app: App, deps: Deps) -> None:
    app.use(RoutablePayloads())  # before Bolt matches a listener against the payload
    actions.register(app, deps)
    views.register(app, deps)
    commands.register(app, deps)
    escalate.register(app, deps)
    incidents.register(app, deps)
    csat.register(app, deps)  # the CSAT question's buttons, in customers' threads
    events.register(app, deps)  # last: it ends with a catch-all for events we do not handle
