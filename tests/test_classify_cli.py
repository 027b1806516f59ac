"""`triage classify`: the triage step as a dry run, with the offline classifier or the model;
and `triage classify --train`, which retrains the offline classifier."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from sandbox.openai_server import OpenAIServer
from tests.harness import triage_cli

MESSAGES = (
    'thanks!\n{"text": "Our dashboards are down for all users since 9am"}\n\n'
    "how do I schedule a weekly export?\n"
)


def _classify(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return triage_cli("classify", *args, input=MESSAGES, env={**clean, **env}, timeout=60)


def test_classify_prints_one_result_a_line_with_the_offline_classifier() -> None:
    result = _classify("-")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["category"] for r in rows] == ["no_action", "incident", "question"]
    assert [r["needs_reply"] for r in rows] == [False, True, True]
    assert set(rows[0]) == {"category", "urgency", "summary", "needs_reply"}


def test_classify_asks_the_model_when_configured() -> None:
    with OpenAIServer() as model:
        result = _classify(
            OPENAI_API_KEY="sk-test-key-for-the-local-server", OPENAI_BASE_URL=model.base_url
        )
        assert result.returncode == 0, result.stderr
        assert len(model.requests()) == 3
        assert len(result.stdout.splitlines()) == 3


def test_the_words_themselves_are_one_message_and_a_file_is_read(tmp_path: Path) -> None:
    result = _classify("Our API is down for everyone")
    assert result.returncode == 0, result.stderr
    [row] = [json.loads(line) for line in result.stdout.splitlines()]
    assert row["category"] == "incident" and row["summary"] == "Our API is down for everyone"
    messages = tmp_path / "messages.txt"
    messages.write_text(MESSAGES, encoding="utf-8")
    for args in ([str(messages)], ["--file", str(messages)]):
        rows = [json.loads(line) for line in _classify(*args).stdout.splitlines()]
        assert [r["category"] for r in rows] == ["no_action", "incident", "question"]


def test_a_line_that_is_not_usable_json_is_a_clear_error() -> None:
    result = triage_cli("classify", "-", input='{"message": "hi"}\n', timeout=60)
    assert result.returncode == 2
    assert 'line 1 is not JSON with a "text" field' in result.stderr


def test_train_writes_a_model_that_classify_then_uses(tmp_path: Path) -> None:
    rows = [
        ("how do I export a report?", "question", "normal"),
        ("where are the API docs?", "question", "normal"),
        ("the export crashes with an error", "bug", "normal"),
        ("saving fails with error 500", "bug", "high"),
        ("thanks a lot!", "no_action", "low"),
        ("thanks, works now", "no_action", "low"),
    ]
    data = tmp_path / "small.jsonl"
    data.write_text(
        "".join(json.dumps({"text": t, "category": c, "urgency": u}) + "\n" for t, c, u in rows),
        encoding="utf-8",
    )
    model = tmp_path / "models" / "triage.npz"
    trained = triage_cli("classify", "--train", str(data), "--model", str(model), timeout=60)
    assert trained.returncode == 0, trained.stderr
    assert f"on 6 messages of {data}" in trained.stdout
    assert trained.stdout.rstrip().endswith(f"wrote {model}")

    used = _classify("--model", str(model), "thanks!")
    assert used.returncode == 0, used.stderr
    assert json.loads(used.stdout)["category"] == "no_action"


def test_train_on_a_bad_file_is_a_clear_error(tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text('{"text": "hi", "category": "spam", "urgency": "low"}\n', encoding="utf-8")
    model = tmp_path / "triage.npz"
    result = triage_cli("classify", "--train", str(data), "--model", str(model), timeout=60)
    assert result.returncode == 2
    assert "bad.jsonl:1: `category` 'spam'" in result.stderr
    assert not model.exists()
    wrong = triage_cli("classify", "--model", str(data), "hello", timeout=60)
    assert wrong.returncode == 2 and "not a triage model" in wrong.stderr
