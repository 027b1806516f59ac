"""The labelled triage messages are well formed, and `bench/triage_eval.py` scores correctly.

The offline classifier's accuracy on the data is reported in bench/RESULTS.md, not asserted here.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.harness import REPO
from workers.triage import Category, Triage, Urgency, classify_offline

DATA = REPO / "tests" / "data" / "triage_eval.jsonl"


def _load_bench() -> ModuleType:
    """Import bench/triage_eval.py (bench/ is not a package)."""
    name = "bench_triage_eval"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / "triage_eval.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


bench = _load_bench()


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    """Every row of the data file, parsed without the script's own checks."""
    lines = DATA.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_enough_rows(rows: list[dict[str, Any]]) -> None:
    assert len(rows) >= 80


def test_every_label_is_valid(rows: list[dict[str, Any]]) -> None:
    categories = {c.value for c in Category}
    urgencies = {u.value for u in Urgency}
    for number, row in enumerate(rows, start=1):
        assert set(row) <= {"text", "category", "urgency", "needs_reply", "lang", "note"}, number
        assert isinstance(row["text"], str) and row["text"].strip(), number
        assert row["category"] in categories, number
        assert row["urgency"] in urgencies, number
        assert isinstance(row["needs_reply"], bool), number
        assert isinstance(row["lang"], str) and row["lang"], number
        # SPEC §5.2: no-action messages get no card; everything else needs a reply.
        assert row["needs_reply"] == (row["category"] != "no_action"), number
    assert bench.load_rows(DATA) == rows  # the script's checks accept the file as it is


def test_every_category_appears(rows: list[dict[str, Any]]) -> None:
    assert {row["category"] for row in rows} == {c.value for c in Category}


def test_other_languages(rows: list[dict[str, Any]]) -> None:
    langs = Counter(row["lang"] for row in rows)
    assert sum(n for lang, n in langs.items() if lang != "en") >= 12
    assert len(langs) - ("en" in langs) >= 4


def test_texts_are_unique(rows: list[dict[str, Any]]) -> None:
    texts = [row["text"] for row in rows]
    assert len(texts) == len(set(texts))


def test_load_rows_rejects_bad_labels(tmp_path: Path) -> None:
    good = {"text": "hi", "category": "other", "urgency": "low", "needs_reply": True, "lang": "en"}
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "category": "spam"}) + "\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl:2: `category` 'spam'"):
        bench.load_rows(path)


def _row(text: str, category: str, urgency: str, needs_reply: bool, lang: str) -> dict[str, Any]:
    return {
        "text": text,
        "category": category,
        "urgency": urgency,
        "needs_reply": needs_reply,
        "lang": lang,
    }


# A fake classifier: a fixed answer per text, as a Triage (enums) or a plain dict.
_ANSWERS: dict[str, Any] = {
    "site down": Triage(category="incident", urgency="urgent", summary="s", needs_reply=True),
    "thanks": Triage(category="no_action", urgency="low", summary="s", needs_reply=False),
    "invoice wrong": {"category": "bug", "urgency": "normal", "needs_reply": True},
    "merci": {"category": "other", "urgency": "normal", "needs_reply": True},
}

_ROWS = [
    _row("site down", "incident", "urgent", True, "en"),  # all right
    _row("thanks", "no_action", "low", False, "en"),  # all right
    _row("invoice wrong", "billing", "normal", True, "en"),  # category wrong
    _row("merci", "no_action", "low", False, "fr"),  # all three wrong
]


def test_evaluate_counts_and_accuracies() -> None:
    result = bench.evaluate(_ROWS, _ANSWERS.__getitem__)

    assert result["total"] == 4
    assert result["category"] == {"correct": 2, "accuracy": 0.5}
    assert result["needs_reply"] == {"correct": 3, "accuracy": 0.75}
    assert result["urgency"] == {"correct": 3, "accuracy": 0.75}
    assert result["confusion"] == {
        "incident": {"incident": 1},
        "no_action": {"no_action": 1, "other": 1},
        "billing": {"bug": 1},
    }
    assert result["by_category"]["no_action"] == {
        "total": 2,
        "correct": 1,
        "predicted": 1,
        "recall": 0.5,
        "precision": 1.0,
    }
    assert result["by_category"]["bug"]["predicted"] == 1
    assert result["by_category"]["bug"]["precision"] == 0.0
    assert result["by_lang"]["en"]["category"] == {"correct": 2, "accuracy": 2 / 3}
    assert result["by_lang"]["fr"]["total"] == 1
    assert result["by_lang"]["fr"]["needs_reply"]["accuracy"] == 0.0
    assert result["by_group"]["non-en"]["urgency"] == {"correct": 0, "accuracy": 0.0}
    assert [(e["index"], e["wrong"]) for e in result["errors"]] == [
        (2, ["category"]),
        (3, ["category", "needs_reply", "urgency"]),
    ]
    assert result["errors"][1]["predicted"] == {
        "category": "other",
        "needs_reply": True,
        "urgency": "normal",
    }


def test_evaluate_refuses_no_rows() -> None:
    with pytest.raises(ValueError):
        bench.evaluate([], classify_offline)


def test_record_replaces_only_its_section(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmarks\n\nhand-written notes\n")
    result = bench.evaluate(_ROWS, _ANSWERS.__getitem__)

    bench.write_section(bench.record_section(result, DATA, "cmd one"), DATA, results)
    bench.write_section(bench.record_section(result, DATA, "cmd two"), DATA, results)

    start, end = bench.markers(DATA)
    text = results.read_text()
    assert text.startswith(f"# Benchmarks\n\nhand-written notes\n\n{start}")
    assert text.count(start) == 1
    assert text.count(end) == 1
    assert "cmd two" in text and "cmd one" not in text
    assert "| all | 4 | 2/4 (50.0%) | 3/4 (75.0%) | 3/4 (75.0%) |" in text


def test_script_runs_on_the_data() -> None:
    result = bench.evaluate(bench.load_rows(DATA), classify_offline)
    assert result["total"] == len(bench.load_rows(DATA))
    assert 0.0 <= result["category"]["accuracy"] <= 1.0
