"""The update a person is offered for an incident (SPEC §6.6): the model's when configured,
written from the incident's facts only (no customer's words reach the model for it), and the
template when the model is down."""

from __future__ import annotations

import json

from sandbox.openai_server import OpenAIServer
from tests.harness import World, wait_for
from tests.incident_world import (
    INCIDENTS,
    SSO,
    click,
    customer,
    incident_cards,
    incident_world,
    says,
)
from workers.ids import ActionId


def _offered(world: World) -> str:
    [incident] = incident_cards(world)
    before = len(world.emu.views())
    value = incident["blocks"][-1]["elements"][0]["value"]
    click(world, incident, ActionId.INCIDENT_UPDATE, value, INCIDENTS)
    view = wait_for(lambda: world.emu.views()[before:])[0]["view"]
    return str(view["blocks"][1]["element"]["initial_value"])


def _model(model: OpenAIServer) -> dict[str, object]:
    return dict(
        openai_api_key="sk-test-not-a-real-key",
        openai_base_url=model.base_url,
        openai_timeout_seconds=2,
        openai_max_retries=0,
    )


def test_the_model_drafts_the_update_from_the_incidents_facts_only(
    database_url: str, redis_url: str, model: OpenAIServer
) -> None:
    with incident_world(database_url, redis_url, **_model(model)) as world:
        for n, text in enumerate(SSO[:3]):
            says(world, customer(world, n), text)
        world.drain()
        offered = _offered(world)
        assert offered.startswith("Our engineers are investigating single sign-on (SAML) login")
        asked = [
            r
            for r in model.requests()
            if r["response_format"]["json_schema"]["name"] == "IncidentUpdateDraft"
        ]
        assert len(asked) == 2  # the update and the closing update, once each
        sent = json.dumps(asked, ensure_ascii=False)
        for text in SSO[:3]:  # what one customer wrote never reaches another's update
            assert text[:30] not in sent


def test_without_an_answer_from_the_model_the_template_is_offered(
    database_url: str, redis_url: str, model: OpenAIServer
) -> None:
    with incident_world(database_url, redis_url, **_model(model)) as world:
        for n, text in enumerate(SSO[:3]):
            says(world, customer(world, n), text)
        model.fail(status=500, times=100)
        world.drain()
        assert _offered(world).startswith("We are aware of an issue affecting single sign-on")
