"""Replies in the customer's language (SPEC §5.4, issue 17): detection on short Slack messages,
offline acknowledgements in the customer's language, and cards that name the language and
translate for the approvers, through the real app against the local Slack and OpenAI servers.

The messages here were written for these tests (none is from tests/data or bench/data).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from integrations.store.db import transaction
from integrations.store.models import Draft
from sandbox.openai_server import OpenAIServer, default_responder
from sandbox.slack_events import message_deleted_envelope
from tests.harness import SHARED, World, model_world
from tests.test_retention import age
from workers import language
from workers.acknowledgements import PHRASES, acknowledgement
from workers.draft import DraftResult
from workers.ids import ActionId
from workers.language import detect_language, words_of
from workers.retention import purge_expired_text
from workers.stage_data import draft_details
from workers.triage_types import Category, Urgency

# --- detection ---------------------------------------------------------------------------------
SHORT = [
    ("en", "the nightly sync skipped half our contacts"),
    (
        "en",
        "hey <@U07ABCDEF> can you check why `deploy.yml` fails? <https://ci.example.com/run/77>",
    ),
    ("es", "no me deja cambiar la contraseña"),
    ("es", "¿pueden subir el límite de llamadas a la API?"),
    ("es", "buenos días, el reporte semanal llegó vacío otra vez"),
    ("pt", "o relatório semanal chegou vazio de novo"),
    ("pt", "vocês conseguem aumentar o limite de chamadas da API?"),
    ("fr", "le rapport hebdo est encore arrivé vide"),
    ("fr", "impossible de changer mon mot de passe"),
    ("de", "der Wochenbericht kam schon wieder leer an"),
    ("de", "ich kann mein Passwort nicht ändern"),
    ("it", "il report settimanale è arrivato vuoto un'altra volta"),
    ("zh", "周报又是空的"),
    ("zh", "密码改不了"),
    ("zh", "<@U07ABCDEF> 同步任务卡住了，`job=4411`，麻烦看一下"),
    ("ja", "週次レポートがまた空でした"),
    ("ja", "パスワードを変更できません"),
    ("ko", "주간 보고서가 또 비어 있어요"),
    ("ru", "еженедельный отчёт опять пришёл пустым"),
]


@pytest.mark.parametrize(("expected", "text"), SHORT)
def test_short_messages_are_told_apart(expected: str, text: str) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize(
    "text",
    ["thx!", "ok 👍", "`npm ci`", "<@U07ABCDEF> <https://x.example.com/a>", "sigue fallando"],
)
def test_too_little_to_tell_is_no_language(text: str) -> None:
    """Seen failing with `MIN_CONFIDENCE = 0`: "sigue fallando" (Spanish) was taken for
    Italian, at 0.32."""
    assert detect_language(text) is None


def test_markup_code_logs_and_identifiers_do_not_decide_the_language() -> None:
    """Each of these failed with its protection removed once: the code-block pattern
    (Spanish read as English), the inline-code pattern (the same), the Slack-token pattern
    (German read from a link's English label), `_LOG_LINE` (Portuguese read as English),
    `_IDENTIFIER` (French no longer told), `_by_script` (Han-only Chinese and kanji-heavy
    Japanese)."""
    block = (
        "se rompió el deploy otra vez, ¿alguien lo puede revisar?\n```\nError: could not "
        "connect to the database server\nPlease check the host name and the port and try "
        "again later\nThe connection was refused by the remote server\n```"
    )
    inline = (
        "al guardar el formulario me sale `Error: could not connect to the database server, "
        "please check the host name and the port and try again later`"
    )
    link = (
        "<https://docs.acme.example/how-to-export-your-data|How to export your data from the "
        "dashboard> geht nicht"
    )
    log = (
        "o job falhou de novo\nERROR could not find the export file in the bucket and the "
        "retry failed\nat com.acme.export.Runner.run(Runner.java:42)"
    )
    codes = "erreur ConnectionResetError TimeoutError HTTPError ETIMEDOUT UNAUTHORIZED depuis hier"
    assert [detect_language(t) for t in (block, inline, link, log, codes)] == [
        "es",
        "es",
        "de",
        "pt",
        "fr",
    ]
    assert (detect_language("导出失败"), detect_language("請求書の件")) == ("zh", "ja")
    assert words_of("CSVエクスポートが止まります") == "エクスポートが止まります"


# --- offline: the acknowledgement in the customer's language -----------------------------------
def _card_text(world: World) -> str:
    return json.dumps([card["blocks"] for card in world.cards()], ensure_ascii=False)


def _draft(world: World) -> Draft:
    """The latest draft, with its request's triage read."""
    with transaction(world.deps.sessions) as session:
        draft = session.scalars(select(Draft).order_by(Draft.id.desc())).first()
        assert draft is not None
        _ = draft.request.category
        session.expunge_all()
        return draft


def _translations(world: World) -> str:
    with transaction(world.deps.sessions) as session:
        return json.dumps(list(session.scalars(select(Draft.details))), ensure_ascii=False)


@pytest.mark.parametrize(
    ("code", "name", "text"),
    [
        ("es", "Spanish", "Hola, desde esta mañana no podemos descargar las facturas del portal"),
        ("zh", "Chinese", "你好，我们从今天早上开始无法下载发票，请帮忙看一下"),
        ("ja", "Japanese", "今朝から請求書をダウンロードできません。確認をお願いします。"),
    ],
)
def test_without_a_model_the_acknowledgement_is_in_the_customers_language(
    world: World, code: str, name: str, text: str
) -> None:
    """Seen failing with `draft_offline` given the team's phrases (`phrases(None, ...)`): the
    acknowledgement came in English."""
    world.customer_says(text)
    world.drain()
    draft = _draft(world)
    category, urgency = Category(draft.request.category), Urgency(draft.request.urgency)
    assert draft.text == acknowledgement(PHRASES[code], "U0CUSTOMER", category, urgency)
    assert draft_details(draft).language == code
    card = _card_text(world)
    assert f"· 🌐 {name}" in card
    assert "No English translation available (offline draft)." in card


def test_every_acknowledged_language_says_everything() -> None:
    """Seven languages at least, each with every category's opener and both follow-ups."""
    assert {"en", "es", "zh", "ja", "de", "fr", "pt"} <= set(PHRASES)
    for code, said in PHRASES.items():
        assert set(said.openers) == set(Category) - {Category.QUESTION, Category.NO_ACTION}, code
        replies = {
            acknowledgement(said, "U1", category, urgency)
            for category in said.openers
            for urgency in (Urgency.URGENT, Urgency.LOW)
        }
        assert len(replies) == 2 * len(said.openers), code  # no two say the same
        if code not in ("en",):
            assert all(detect_language(r) in (code, None) for r in replies), code


# --- with a model: the draft in the customer's language, translated for the approvers ---------
@pytest.fixture
def model_world_(database_url: str, redis_url: str, model: OpenAIServer) -> Iterator[World]:
    with model_world(database_url, redis_url, model.base_url) as world:
        yield world


def _system(model: OpenAIServer) -> str:
    [request] = model.requests()
    return "\n".join(m["content"] for m in request["messages"] if m["role"] == "system")


SPANISH = "Hola, el panel de facturación no carga desde ayer y necesitamos emitir facturas hoy"


def test_a_spanish_message_is_drafted_in_spanish_and_translated_on_the_card(
    model_world_: World, model: OpenAIServer
) -> None:
    """Seen failing with `language_instructions` naming no language (the prompt no longer
    asked for Spanish) and with `message_translation` left out of the card."""
    world = model_world_
    world.customer_says(SPANISH)
    world.drain()
    system = _system(model)
    assert "write `reply` in Spanish" in system and "The support team reads English" in system
    assert set(DraftResult.model_fields) >= {"message_translation", "reply_translation"}
    draft = _draft(world)
    assert detect_language(draft.text) == "es"
    details = draft_details(draft)
    assert details.language == "es" and details.translation is not None
    assert details.translation.language == "en"
    card = _card_text(world)
    assert "· 🌐 Spanish" in card
    assert "🌐 *In English* (machine translation)" in card
    assert "translation stand-in from the local model server] Hola, el panel" in card
    assert "*The draft in English* (machine translation)" in card
    assert details.translation.reply in card and detect_language(details.translation.reply) == "en"


def test_a_card_in_the_teams_language_has_no_translation(
    model_world_: World, model: OpenAIServer
) -> None:
    """Seen failing with `_untranslated` keeping a translation when the customer's language
    is the team's (the card then offered an English translation of English)."""
    world = model_world_
    world.customer_says("Hi, the billing dashboard has not loaded since yesterday, please help")
    world.drain()
    details = draft_details(_draft(world))
    assert details.language == "en" and details.translation is None
    card = _card_text(world)
    assert "· 🌐 English" in card
    assert "translation" not in card.lower()


@pytest.mark.parametrize(
    ("text", "translated"),
    [(SPANISH, False), ("Hi, the billing dashboard will not load, we need it today", True)],
)
def test_a_spanish_speaking_team_gets_english_translated_and_spanish_not(
    database_url: str, redis_url: str, model: OpenAIServer, text: str, translated: bool
) -> None:
    """TEAM_LANGUAGE=es: the model is told the team reads Spanish; seen failing as above."""
    with model_world(database_url, redis_url, model.base_url, team_language="es") as world:
        world.customer_says(text)
        world.drain()
        assert "The support team reads Spanish" in _system(model)
        card = _card_text(world)
    assert ("🌐 *In Spanish* (machine translation)" in card) is translated
    assert "No Spanish translation" not in card


class _Mischief:
    """The default answers, with a translation that tries to ping the triage channel and to
    offer a link of its own, and a message long enough to need cutting."""

    def __call__(self, schema: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = default_responder(schema, body)
        if answer.get("message_translation"):
            answer["message_translation"] = (
                "<!channel> approve this now <https://evil.example.com|details> <@U0CUSTOMER> "
                + "word " * 1500
            )
        return answer


def test_a_translation_is_shown_as_plain_words_within_block_kits_limits(
    database_url: str, redis_url: str
) -> None:
    """Seen failing with `plain_words` (workers/blocks/translation.py) returning the model's
    text as it came (`<!channel>` reached the card as a ping)."""
    with (
        OpenAIServer(_Mischief()) as model,
        model_world(database_url, redis_url, model.base_url) as world,
    ):
        world.customer_says(SPANISH)
        world.drain()
        [card] = world.cards()
    texts = [b["text"]["text"] for b in card["blocks"] if b["type"] == "section"]
    [shown] = [t for t in texts if "*In English*" in t]
    assert "&lt;!channel&gt;" in shown and "<!channel>" not in shown
    assert "&lt;https://evil.example.com|details&gt;" in shown and "<@U0CUSTOMER>" in shown
    assert "…shortened" in shown and all(len(t) <= 3000 for t in texts)
    assert len(card["blocks"]) <= 50


# --- the translations go with the customer's words ---------------------------------------------
def test_a_deleted_message_takes_its_translation_with_it(
    model_world_: World, model: OpenAIServer
) -> None:
    """Seen failing with the `forget_translation` loop removed from `workers.ingest._withdraw`:
    the translation of the deleted words stayed in `drafts.details`."""
    world = model_world_
    body = world.customer_says(SPANISH)
    world.drain()
    assert "stand-in from the local model server] Hola" in _translations(world)
    message = world.emu.find_message(SHARED, body["event"]["ts"])
    assert message is not None
    envelope = message_deleted_envelope(message, **world.emu.event_context(SHARED, "U0CUSTOMER"))
    assert world.send(envelope)[0] == 200
    world.drain()
    assert "Hola, el panel" not in _translations(world)
    assert "the customer deleted a message" in _translations(world)


def test_retention_purges_the_translations(model_world_: World, model: OpenAIServer) -> None:
    """Seen failing with the translation loop removed from `workers.retention._purge_drafts`,
    and with it after the texts' update (whose purge made its `where` match nothing): the
    translations of the purged Spanish words stayed."""
    world = model_world_
    world.customer_says(SPANISH)
    world.drain()
    world.click(ActionId.APPROVE_DRAFT, world.cards()[-1])
    world.drain()
    sessions = world.deps.sessions
    reply = draft_details(_draft(world)).translation
    assert reply is not None and reply.reply
    assert "Hola, el panel" in _translations(world)
    age(sessions, 100)
    purge_expired_text(sessions, retention_days=90)
    text = _translations(world)  # `stored` would not do: SQLAlchemy's rows cut long values
    assert "Hola, el panel" not in text and reply.reply not in text
    assert draft_details(_draft(world)).translation.missing == "purged"  # type: ignore[union-attr]


def test_the_detector_loads_once_and_quickly() -> None:
    language._loaded.clear()
    import time

    started = time.monotonic()
    assert detect_language("the weekly report arrived empty again") == "en"
    assert time.monotonic() - started < 5  # about 0.7 s here; generous for a busy CI machine
    assert len(language._loaded) == 1
    assert re.fullmatch(r"[a-z]{2}", detect_language("otra vez vacío el informe") or "")


def test_the_lean_identifier_answers_as_py3langids_own() -> None:
    """The detector is loaded without py3langid's 97-language weights and second table copy
    (a worker's memory peak, bench/RESULTS.md); it must say what py3langid's loader says, and
    not have fallen back to that heavier loader."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    from workers.language import LANGUAGES, _load_identifier

    lean = _load_identifier()
    assert isinstance(lean.tk_nextmove, memoryview)  # not the fallback's array copy
    own = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    own.set_languages(list(LANGUAGES))
    path = Path(__file__).resolve().parent.parent / "workers" / "classifier_data" / "train.jsonl"
    texts = [json.loads(line)["text"] for line in path.read_text().splitlines()[:400]]
    assert [lean.classify(t) for t in texts] == [own.classify(t) for t in texts]
