"""The incident card (SPEC §6.6): `incident_update`, `incident_resolve`, `incident_split`, the
`incident_update` modal, and `incident_send_update` on a late report's card.

As the approval card's buttons: ack first, parse, refuse anyone outside the organisation
(recorded), call one flow of `app.incidents`, answer ephemerally. The modal opens at once
from a template (no model call inside the trigger id's 3 seconds).
"""

from __future__ import annotations

from typing import Any, TypeVar

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from app import incidents
from app.listeners.actions import REFUSAL, our_click, tell
from app.listeners.incident_payloads import IncidentClick, SendUpdateClick, SplitClick, UpdateForm
from app.listeners.payloads import BlockAction, parse
from app.listeners.people import installation_of, is_our_person
from app.listeners.wiring import with_deps
from integrations.deps import Deps
from workers.blocks.incident import build_update_modal
from workers.ids import ActionId, BlockId, CallbackId

Click = TypeVar("Click", bound=BlockAction)
SPLIT_DONE = "Split out: that report has its own card and SLA clock again."
LATE_SENT = "The incident's latest update is on its way to this customer's thread."


def register(app: App, deps: Deps) -> None:
    app.action(ActionId.INCIDENT_UPDATE)(with_deps(open_update, deps))
    app.action(ActionId.INCIDENT_RESOLVE)(with_deps(open_resolve, deps))
    app.action(ActionId.INCIDENT_SPLIT)(with_deps(split_report, deps))
    app.action(ActionId.INCIDENT_SEND_UPDATE)(with_deps(send_latest_update, deps))
    app.view(CallbackId.INCIDENT_UPDATE)(with_deps(submit_update, deps))


def open_update(
    deps: Deps,
    ack: Ack,
    body: dict[str, Any],
    context: BoltContext,
    respond: Respond,
    client: WebClient,
) -> None:
    """Post update to all: the modal with the drafted status update."""
    _open(deps, "update", ack, body, context, respond, client)


def open_resolve(
    deps: Deps,
    ack: Ack,
    body: dict[str, Any],
    context: BoltContext,
    respond: Respond,
    client: WebClient,
) -> None:
    """Resolve: the same modal, for the closing update."""
    _open(deps, "resolve", ack, body, context, respond, client)


def split_report(
    deps: Deps, ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond
) -> None:
    """Split out: the report leaves the incident and gets its own clock back."""
    click = our_click(SplitClick, deps, ack, body, context, respond)
    if click is not None:
        outcome = incidents.split(deps, request_id=click.request_id, user_id=click.user_id)
        tell(respond, SPLIT_DONE if outcome == incidents.Outcome.DONE else _why(outcome))


def send_latest_update(
    deps: Deps, ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond
) -> None:
    """A late report's card: send it the incident's latest update."""
    click = our_click(SendUpdateClick, deps, ack, body, context, respond)
    if click is not None:
        update_id, request_id = click.ids
        outcome = incidents.send_latest(
            deps, update_id=update_id, request_id=request_id, user_id=click.user_id
        )
        tell(respond, LATE_SENT if outcome == incidents.Outcome.DONE else _why(outcome))


def submit_update(deps: Deps, ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    """Send the update (or the closing update) to every affected thread, once."""
    form = parse(UpdateForm, body)
    if form is None:
        ack()
        return
    if not is_our_person(installation_of(context, body), form.actor):
        ack(response_action="errors", errors={BlockId.INCIDENT_TEXT: REFUSAL})
        return
    outcome = incidents.send_update(
        deps,
        incident_id=form.metadata.incident_id,
        kind=form.metadata.kind,
        text=form.text,
        user_id=form.user_id,
    )
    if outcome == incidents.Outcome.DONE:
        ack()
    else:
        ack(response_action="errors", errors={BlockId.INCIDENT_TEXT: _why(outcome)})


def _open(
    deps: Deps,
    kind: str,
    ack: Ack,
    body: dict[str, Any],
    context: BoltContext,
    respond: Respond,
    client: WebClient,
) -> None:
    click = our_click(IncidentClick, deps, ack, body, context, respond)
    if click is None:
        return
    prefill = incidents.prefill(deps, click.incident_id, kind)
    if prefill is None:
        tell(respond, _why(incidents.Outcome.RESOLVED))
        return
    modal = build_update_modal(
        incident_id=click.incident_id, kind=kind, text=prefill.text, threads=prefill.threads
    )
    client.views_open(trigger_id=click.trigger_id, view=modal)  # within the trigger's 3 s


def _why(outcome: incidents.Outcome) -> str:
    return incidents.MESSAGES.get(outcome, "Nothing was changed.")
