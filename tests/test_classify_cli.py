"""`triage classify`: the triage step as a dry run, with the rules or the model."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from sandbox.openai_server import OpenAIServer
from tests.harness import triage_cli

MESSAGES = (
    'thanks!\n{"text": "Our dashboards are down for all users since 9am"}\n\nhow do I add seats?\n'
)


def _classify(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return triage_cli("classify", *args, input=MESSAGES, env={**clean, **env}, timeout=60)


def test_classify_prints_one_result_a_line_with_the_rules() -> None:
    result = _classify("-")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["category"] for r in rows] == ["no_action", "incident", "account_access"]
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
        assert [r["category"] for r in rows] == ["no_action", "incident", "account_access"]


def test_a_line_that_is_not_usable_json_is_a_clear_error() -> None:
    result = triage_cli("classify", "-", input='{"message": "hi"}\n', timeout=60)
    assert result.returncode == 2
    assert 'line 1 is not JSON with a "text" field' in result.stderr
