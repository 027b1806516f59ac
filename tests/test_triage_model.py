"""The learned offline classifier (SPEC §5.2): what the shipped model must get right, that it
loads fast from a file holding no code, and that retraining makes a model that loads and predicts.

The clear cases below were written for this test: none comes from the training set, the
evaluation set or the held-out set. Accuracy on messages in general is measured, not asserted:
bench/triage_cv.py and bench/triage_eval.py, recorded in bench/RESULTS.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from integrations.local_embeddings import LocalEmbedder
from tests.harness import REPO
from workers.triage import classify_offline
from workers.triage_features import normalise, words
from workers.triage_model import PACKAGED_MODEL, Columns, load_model
from workers.triage_training import Recipe, read_rows, train

# (message, category): one or more clear cases per category in English, Spanish and Chinese,
# and a few in German, French, Japanese and Portuguese.
CLEAR = [
    ("How do I change the time zone shown on our reports?", "question"),
    ("¿Cómo exporto las conversaciones de un agente a Excel?", "question"),
    # read as account_access by the model without meaning (a strict xfail until then)
    ("¿Dónde se configura el horario de atención de la bandeja de entrada?", "question"),
    ("请问报表里的时区在哪里可以改？", "question"),
    ("Wie kann ich den Export als CSV planen?", "question"),
    (
        "The export button gives a 500 error every time I pick last month, other months work",
        "bug",
    ),
    ("Al guardar el formulario se borra el campo de teléfono, es un error", "bug"),
    ("导出按钮点了没反应，控制台报错 TypeError", "bug"),
    ("Everything is down: the app and the API return 503 for all our users", "incident"),
    ("La plataforma está caída para todos desde hace media hora", "incident"),
    ("系统全部挂了，所有用户都打不开", "incident"),
    ("It would be great if you added a dark mode, please consider it", "feature_request"),
    ("Sería genial poder programar los envíos, ¿lo tienen en el roadmap?", "feature_request"),
    ("希望能增加批量导入的功能", "feature_request"),
    ("We were charged twice on this month's invoice, can you refund one?", "billing"),
    ("Nos cobraron dos veces la factura de noviembre", "billing"),
    ("发票抬头开错了，麻烦重新开一张发票", "billing"),
    ("I'm locked out after resetting my password, the reset link says expired", "account_access"),
    ("No puedo iniciar sesión, me dice que mi usuario está desactivado", "account_access"),
    ("我的账号被锁了，登录不了，麻烦帮忙解锁", "account_access"),
    ("Could we set up a call next week to go over our renewal plans with legal?", "other"),
    ("Thanks, that fixed it!", "no_action"),
    ("¡Gracias, ya funciona!", "no_action"),
    ("好的，谢谢！", "no_action"),
    ("Danke, jetzt klappt es.", "no_action"),
    ("Merci beaucoup, c'est réglé !", "no_action"),
    ("ありがとうございます、解決しました", "no_action"),
    ("Obrigado, deu certo!", "no_action"),
    ("🙏", "no_action"),
]


@pytest.mark.parametrize("text, category", CLEAR)
def test_clear_cases(text: str, category: str) -> None:
    result = classify_offline(text)
    assert result.category == category, text
    assert result.needs_reply == (category != "no_action")
    assert result.summary


def test_no_action_is_never_pressing_and_an_outage_is() -> None:
    assert classify_offline("ok thanks 👍").urgency == "low"
    assert classify_offline("Production is down for everyone, nothing loads").urgency in (
        "high",
        "urgent",
    )


def test_a_message_without_words_needs_no_reply() -> None:
    """An emoji, a reaction code or nothing: no_action (learned: the `no_words` cue and the
    training set's emoji-only messages; no override needed)."""
    for text in ("", "   ", ":tada:", "👍👍", "!!"):
        assert classify_offline(text).category == "no_action", repr(text)


def test_no_action_needs_a_clear_win_and_nothing_asked() -> None:
    """No card is the costly mistake. Fails with `or _asks(text)` removed from
    TriageModel._category (the first message reads as no_action), and with NO_ACTION_MARGIN
    at 0.3 (session 8's model: the second reads as no_action 0.32 ahead of billing)."""
    assert classify_offline("thanks! did you see my last message?").needs_reply
    assert classify_offline(
        "perfect, thank you. one more: we want to upgrade to 40 seats"
    ).needs_reply
    assert classify_offline("cool. please add Maria to the channel").needs_reply


def test_a_short_request_in_so_many_words_needs_a_reply() -> None:
    """Short messages mostly need nothing, so the model reads a short request as no_action.
    Fails with `_REQUEST` out of `_asks` (each of these reads as no_action)."""
    for text in (
        "Please delete all our data",
        "Please delete user U123",
        "Merci de supprimer nos données",
        "Bitte löschen Sie unsere Daten",
        "Por favor borren todos nuestros datos",
    ):
        assert classify_offline(text).needs_reply, text


def test_thanks_but_still_broken_is_a_bug() -> None:
    """A known miss (the thanks outweighed the failure) until holdout7 joined the training
    set (session 13)."""
    assert classify_offline("thanks, but it still fails").category == "bug"


def test_chinese_and_japanese_words_are_character_pairs() -> None:
    """Without spaces a whole clause was one word, seen in no other message; its character
    pairs are shared (5-fold CV on the training set: Chinese category 70.7% -> 76.0%)."""
    assert words(normalise("导出失败了，报错 TypeError")) == [
        "导出",
        "出失",
        "失败",
        "败了",
        "报错",
        "typeerror",
    ]
    assert words(normalise("我的API key坏了")) == ["我的", "api", "key", "坏了"]
    assert words(normalise("ログインできない")) == [
        "ログ",
        "グイ",
        "イン",
        "ンで",
        "でき",
        "きな",
        "ない",
    ]
    assert words(normalise("thx，已 work")) == ["thx", "已", "work"]


def test_the_summary_is_the_first_sentence() -> None:
    result = classify_offline("Exports fail with a 500. We tried twice. Any idea?")
    assert result.summary == "Exports fail with a 500."
    assert classify_offline("").summary == "(no text)"


def test_the_packaged_model_loads_cold_in_under_a_second() -> None:
    """A new process loads the shipped model and the sentence encoder and classifies one
    message in under a second of CPU (about 0.2 s here). Importing the modules (NumPy,
    pydantic) is timed and printed, not asserted: on a machine shared by parallel tests it
    alone can take seconds. The encoder's word table is written to its cache once a machine
    (0.3 s more), here before the clock."""
    LocalEmbedder().warm_up()
    code = (  # CPU seconds: the wall clock of a process among four test workers says little
        "import time; t = time.process_time()\n"
        "from workers.triage_model import packaged_model\n"
        "imported = time.process_time()\n"
        "packaged_model().classify('our dashboards are down since 9am')\n"
        "print(imported - t, time.process_time() - imported)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    importing, loading = (float(x) for x in out.stdout.splitlines()[-1].split())
    print(f"import {importing:.3f} s, load and first prediction {loading:.3f} s")
    assert loading < 1.0


def test_the_model_file_holds_arrays_only() -> None:
    """No pickled object: every member is a NumPy array that loads without pickle."""
    with zipfile.ZipFile(PACKAGED_MODEL) as archive:
        assert all(name.endswith(".npy") for name in archive.namelist())
    with np.load(PACKAGED_MODEL, allow_pickle=False) as arrays:
        assert all(arrays[name].dtype != object for name in arrays.files)
    meta = load_model(PACKAGED_MODEL).meta
    assert meta["trained_on"] == "train.jsonl" and meta["rows"] >= 1000


SMALL = [
    {"text": "how do I export a report?", "category": "question", "urgency": "normal"},
    {"text": "where do I find the API docs?", "category": "question", "urgency": "normal"},
    {"text": "the export crashes with an error", "category": "bug", "urgency": "normal"},
    {"text": "saving fails with error 500", "category": "bug", "urgency": "high"},
    {"text": "thanks a lot!", "category": "no_action", "urgency": "low"},
    {"text": "thanks, works now", "category": "no_action", "urgency": "low"},
]


def test_a_model_trained_on_a_small_file_saves_loads_and_predicts(tmp_path: Path) -> None:
    data = tmp_path / "small.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in SMALL), encoding="utf-8")
    model = train(read_rows(data), source=data.name)
    model.save(tmp_path / "model.npz")
    loaded = load_model(tmp_path / "model.npz")

    assert loaded.classify("thanks!").category == "no_action"
    assert loaded.classify("how do I export?").category == "question"
    assert loaded.classify("the export crashes").category == "bug"
    for text in ("thanks!", "how do I export?", "saving fails"):
        assert loaded.classify(text) == model.classify(text)
    assert loaded.meta["rows"] == len(SMALL)


def test_training_refuses_bad_rows(tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    good = json.dumps(SMALL[0])
    bad = json.dumps({**SMALL[0], "category": "spam"})
    data.write_text(f"{good}\n{bad}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.jsonl:2: `category` 'spam'"):
        read_rows(data)
    data.write_text(json.dumps({**SMALL[4], "needs_reply": True}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="needs_reply"):
        read_rows(data)
    with pytest.raises(ValueError, match="nothing to learn"):
        train([SMALL[0], SMALL[1]])


def test_a_file_that_is_no_model_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a triage model"):
        load_model(junk)


def test_a_model_of_the_old_format_is_refused(tmp_path: Path) -> None:
    """Format 1 read a Chinese clause as one word: its vocabulary would match nothing now."""
    with np.load(PACKAGED_MODEL, allow_pickle=False) as arrays:
        members = {name: arrays[name] for name in arrays.files}
    members["format"] = np.asarray(1)
    old = tmp_path / "old.npz"
    np.savez_compressed(old, **members)  # type: ignore[arg-type]  # numpy stubs: allow_pickle
    with pytest.raises(ValueError, match="model format 1, not 3"):
        load_model(old)


def test_meaning_carries_what_was_learned_into_other_languages() -> None:
    """Trained on six English messages, the model that reads meaning files Spanish and
    Chinese ones it shares no words with; the same recipe without meaning (the listener's
    words-only heads) cannot."""
    # Plain argmax (no no-action margin): six messages leave no margin to speak of.
    argmax = Recipe(no_action_margin=-1.0)
    with_meaning = train(SMALL, recipe=argmax)
    words = train(SMALL, recipe=replace(argmax, meaning_weight=0.0))
    cases = {
        "¿cómo exporto un informe?": "question",
        "la exportación se cuelga y da error": "bug",
        "¡mil gracias, ya funciona!": "no_action",
        "报表导出时崩溃了": "bug",
        "导出报表怎么操作？": "question",
        "非常感谢！": "no_action",
    }
    for text, category in cases.items():
        assert with_meaning.classify(text).category == category, text
        assert with_meaning.classify(text, words_only=True) == words.classify(text)
    assert sum(words.classify(t).category == c for t, c in cases.items()) <= 3


def test_a_long_message_always_reaches_a_person() -> None:
    """Seen failing without the NO_ACTION_MAX_CHARS condition in `_category`: 40,000
    characters of anything (a pasted dump) read as no action, and no card was posted."""
    for text in ("x" * 40_000, "\n".join("y" * 20_000), "ok " * 200):
        assert classify_offline(text).needs_reply, text[:20]


def test_the_vocabulary_finds_its_own_names_and_nothing_else() -> None:
    names = ["w:export", "c:exp", "k:outage", "w:导出", "c:🚨 ", "w:export failed"]
    columns = Columns(names)
    assert len(columns) == len(names)
    assert columns.find(names).tolist() == list(range(len(names)))
    assert columns.find(["w:exports", "w:Export", "", "w:export"]).tolist() == [-1, -1, -1, 0]
    assert columns.names() == names  # what a saved model writes
    assert Columns([]).find(["w:export"]).tolist() == [-1]
