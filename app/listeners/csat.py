"""The CSAT question's buttons in a customer's thread (SPEC §6.7): `csat_good`, `csat_bad`.

Unlike the cards' buttons, these are for the customer: a click from our own organisation
records nothing (it is told so, in the team's language), any other is stored once per person
by `workers.csat.record_vote` (a second click changes it) and thanked in the customer's
language, the question's. Every answer is ephemeral, in the clicker's own workspace
(`respond`, through the click's `response_url`), and never replaces the question: the
customer's colleagues may answer too.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from app.listeners.payloads import BlockAction, SlackId, _at, parse
from app.listeners.people import installation_of, is_our_person
from app.listeners.wiring import with_deps
from integrations.deps import Deps
from integrations.store.csat_models import CsatValue
from workers import csat
from workers.acknowledgements import CsatPhrases
from workers.blocks.csat import csat_phrases
from workers.ids import ActionId


class CsatClick(BlockAction):
    """A click on the question: the value is the request's id, the channel where it was asked."""

    request_id: int = _at("actions", 0, "value")
    channel_id: SlackId = _at("channel", "id")


def register(app: App, deps: Deps) -> None:
    app.action(ActionId.CSAT_GOOD)(with_deps(csat_good, deps))
    app.action(ActionId.CSAT_BAD)(with_deps(csat_bad, deps))


def csat_good(
    deps: Deps, ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond
) -> None:
    """👍 on the question: the answer helped."""
    _vote(CsatValue.GOOD, deps, ack, body, context, respond)


def csat_bad(
    deps: Deps, ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond
) -> None:
    """👎 on the question: it did not."""
    _vote(CsatValue.BAD, deps, ack, body, context, respond)


def _vote(
    value: CsatValue,
    deps: Deps,
    ack: Ack,
    body: dict[str, Any],
    context: BoltContext,
    respond: Respond,
) -> None:
    ack()
    click = parse(CsatClick, body)
    if click is None:
        return
    if is_our_person(installation_of(context, body), click.actor):  # our people never count
        _tell(respond, csat_phrases(deps.settings.team_language).not_counted)
        return
    voted = csat.record_vote(
        deps,
        request_id=click.request_id,
        channel_id=click.channel_id,
        user_id=click.user_id,
        team_id=click.actor.team_id,
        value=value,
    )
    _tell(respond, answer(voted.outcome, csat_phrases(voted.language)))


def answer(outcome: csat.Vote, said: CsatPhrases) -> str:
    """What a customer's click is told, in their language."""
    return {
        csat.Vote.RECORDED: said.thanks,
        csat.Vote.UNCHANGED: said.thanks,
        csat.Vote.CHANGED: said.changed,
        csat.Vote.NOT_ASKED: said.closed,
    }[outcome]


def _tell(respond: Respond, text: str) -> None:
    respond(text=text, response_type="ephemeral", replace_original=False)
