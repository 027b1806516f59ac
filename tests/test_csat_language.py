"""CSAT in the customer's language (SPEC §5.4, §6.7): the question, its buttons and the thanks
for a click are in the language the request's draft recorded, English when it is not known or
has no phrases; the click records all the same. Through the real app, workers' jobs and the
local Slack emulator, on real Redis and PostgreSQL.

The messages here were written for these tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from integrations.store.db import transaction
from integrations.store.models import Draft
from tests.csat_world import (
    EN,
    answered,
    buttons,
    click,
    questions,
    start_csat_world,
    survey,
    votes,
)
from tests.harness import CUSTOMER, CUSTOMER_TEAM, World
from workers.acknowledgements import PHRASES
from workers.blocks.csat import csat_phrases
from workers.csat import recover_surveys
from workers.ids import ActionId
from workers.language import detect_language
from workers.stage_data import draft_details

ASKED = {  # a customer's question in each language with phrases
    "es": "¿Cómo exportamos las facturas del mes pasado en CSV?",
    "ja": "先月の請求書をCSVで書き出すにはどうすればいいですか？",
    "de": "Wie exportieren wir die Rechnungen des letzten Monats als CSV?",
}
ITALIAN = "Come possiamo esportare in CSV le fatture del mese scorso?"  # detected, no phrases


@pytest.fixture
def csat_world(database_url: str, redis_url: str) -> Iterator[World]:
    with start_csat_world(database_url, redis_url) as world:
        yield world


def asked_after(world: World, text: str) -> tuple[dict[str, object], str | None]:
    """The customer asks `text`, the draft is sent, the question is due and asked: the question
    in the thread, and the language the request's draft recorded."""
    thread = answered(world, text)
    recover_surveys(world.deps, now=survey(world).due_at)
    world.drain()
    [question] = questions(world, thread)
    with transaction(world.deps.sessions) as session:
        draft = session.scalars(select(Draft).order_by(Draft.id.desc())).first()
        assert draft is not None
        language = draft_details(draft).language
    return question, language


@pytest.mark.parametrize("code", sorted(ASKED))
def test_the_question_and_the_thanks_are_in_the_customers_language(
    csat_world: World, code: str
) -> None:
    """Seen failing with `customer_language` (workers/csat.py) answering None: the Spanish
    question came in English."""
    world = csat_world
    question, language = asked_after(world, ASKED[code])
    said = csat_phrases(code)
    assert language == code
    assert question["text"] == said.question != EN.question
    assert buttons(question) == [said.good, said.bad]

    told = click(world, question, ActionId.CSAT_GOOD, user=CUSTOMER, team=CUSTOMER_TEAM)
    assert told["text"] == said.thanks
    assert votes(world) == [(CUSTOMER, "good")]
    told = click(world, question, ActionId.CSAT_BAD, user=CUSTOMER, team=CUSTOMER_TEAM)
    assert told["text"] == said.changed
    assert votes(world) == [(CUSTOMER, "bad")]


@pytest.mark.parametrize(
    ("text", "language"),
    [(ITALIAN, "it"), ("csv export??", None)],
    ids=["a language without phrases", "too little text to tell"],
)
def test_an_unknown_language_is_asked_and_thanked_in_english(
    csat_world: World, text: str, language: str | None
) -> None:
    world = csat_world
    question, recorded = asked_after(world, text)
    assert recorded == language
    assert question["text"] == EN.question
    assert buttons(question) == [EN.good, EN.bad]
    told = click(world, question, ActionId.CSAT_GOOD, user=CUSTOMER, team=CUSTOMER_TEAM)
    assert told["text"] == EN.thanks
    assert votes(world) == [(CUSTOMER, "good")]


def test_every_language_with_phrases_asks_everything() -> None:
    """The seven languages at least, each saying every part in its own words: buttons within
    Slack's 75 characters, the 👍 and 👎 on them, and text that reads as its language."""
    assert {"en", "es", "zh", "ja", "de", "fr", "pt"} <= set(PHRASES)
    for code in PHRASES:
        said = csat_phrases(code)
        parts = [said.question, said.good, said.bad, said.thanks, said.changed, said.closed]
        parts.append(said.not_counted)
        assert all(parts) and len(set(parts)) == len(parts), code
        assert said.good.startswith("👍") and said.bad.startswith("👎"), code
        assert max(len(said.good), len(said.bad)) <= 75, code
        if code != "en":
            assert all(
                getattr(said, part) != getattr(EN, part) for part in EN.__dataclass_fields__
            ), code
            assert detect_language(said.question) == code, code
