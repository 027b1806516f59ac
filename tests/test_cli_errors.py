"""A new user's first mistakes with `triage` end in one line naming the problem and the fix,
and a non-zero exit, never a traceback: the real command, as a process, on a temp SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from integrations.store.db import upgrade
from tests.harness import REPO, free_port

UNSET = ("SLACK_", "TRIAGE_", "SLA_", "DATABASE_", "REDIS_", "OPENAI_", "LOG_", "SALESFORCE_")


def triage(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`triage ARGS` as a new user would run it: no settings but `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(UNSET)}
    return subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", *args],
        env={**clean, "PYTHONPATH": str(REPO), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one line a failed command ends with; fails the test on a traceback or a zero exit."""
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert result.returncode != 0, result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and result.stderr.strip().endswith(errors[0]), result.stderr
    return errors[0]


@pytest.fixture
def fresh(tmp_path: Path) -> dict[str, str]:
    """DATABASE_URL of a SQLite file nobody has migrated yet."""
    return {"DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}


SLACK = {"SLACK_BOT_TOKEN": "xoxb-1", "TRIAGE_CHANNEL": "C0TRIAGE", "SLACK_SIGNING_SECRET": "s"}


@pytest.mark.parametrize(
    "command",
    [["report"], ["purge", "--dry-run"], ["link", "C0SHARED", "Acme"], ["backfill"], ["worker"]],
)
def test_reading_a_database_before_db_upgrade_says_to_run_it(
    command: list[str], tmp_path: Path, fresh: dict[str, str]
) -> None:
    fresh = {**fresh, **SLACK}  # what the Slack-facing commands need first
    line = one_error_line(triage(*command, cwd=tmp_path, **fresh))
    assert line == (
        f"error: The database at {tmp_path / 'fresh.db'} has no tables yet: run `triage db upgrade`"
    )
    assert not (tmp_path / "fresh.db").exists()  # and it left no empty file behind
    # A file that exists but was never migrated (opened by some other tool) says the same.
    (tmp_path / "fresh.db").touch()
    assert "has no tables yet" in one_error_line(triage(*command, cwd=tmp_path, **fresh))


def test_a_database_behind_this_version_says_to_upgrade(
    tmp_path: Path, fresh: dict[str, str]
) -> None:
    upgrade(fresh["DATABASE_URL"], "0003")
    line = one_error_line(triage("report", cwd=tmp_path, **fresh))
    assert "is at revision 0003 and this version needs" in line
    assert line.endswith("run `triage db upgrade`")


def test_db_upgrade_to_an_unknown_revision_names_the_ones_there_are(
    tmp_path: Path, fresh: dict[str, str]
) -> None:
    line = one_error_line(triage("db", "upgrade", "nonsense", cwd=tmp_path, **fresh))
    assert line.startswith("error: no such revision: nonsense; use `head` or one of 0001, 0002")
    done = triage("db", "upgrade", cwd=tmp_path, **fresh)  # and the default still works
    assert done.returncode == 0 and "database at revision head" in done.stdout, done.stderr


def test_a_database_url_that_does_not_open_is_one_line(tmp_path: Path) -> None:
    missing_dir = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}"
    line = one_error_line(triage("db", "upgrade", cwd=tmp_path, DATABASE_URL=missing_dir))
    assert "cannot open the database at" in line and line.endswith("check DATABASE_URL")
    refused = f"postgresql://triage@127.0.0.1:{free_port()}/triage"
    line = one_error_line(triage("report", cwd=tmp_path, DATABASE_URL=refused))
    assert "cannot open the database at postgresql://" in line and "refused" in line
    line = one_error_line(triage("purge", cwd=tmp_path, DATABASE_URL="triage.db"))
    assert "DATABASE_URL 'triage.db' is not a database URL" in line
    assert "sqlite:///./triage.db" in line  # the fix: what one looks like


def test_classify_names_a_missing_file_in_one_line(tmp_path: Path) -> None:
    line = one_error_line(triage("classify", "--file", "messages.txt", cwd=tmp_path))
    assert line == "error: no such file: messages.txt"
    line = one_error_line(triage("classify", "-f", "msgs", cwd=tmp_path))
    assert line == "error: no such file: msgs"  # with --file, any name is a file's
    line = one_error_line(triage("classify", "./messages.jsonl", cwd=tmp_path))
    assert line == "error: no such file: ./messages.jsonl"  # a lone path-like word, too
    line = one_error_line(triage("classify", str(tmp_path), cwd=tmp_path))
    assert line == f"error: not a file: {tmp_path}"
    (tmp_path / "binary.txt").write_bytes(b"\xd0\x00\xff\xfe")
    line = one_error_line(triage("classify", "binary.txt", cwd=tmp_path))
    assert line.startswith("error: binary.txt is not UTF-8 text")


def test_a_bad_setting_or_option_value_is_one_line(tmp_path: Path, fresh: dict[str, str]) -> None:
    line = one_error_line(triage("report", cwd=tmp_path, LOG_LEVEL="LOUD", **fresh))
    assert line == "error: LOG_LEVEL is invalid: 'LOUD'; use DEBUG, INFO, WARNING or ERROR"
    line = one_error_line(triage("worker", "--queues", "urgent", cwd=tmp_path))
    assert line == (
        "error: no such queue: urgent; "
        "use triage-delivery, triage-pipeline-first and triage-pipeline"
    )
    line = one_error_line(triage("demo", "--transcript", "no/such/dir/t.html", cwd=tmp_path))
    assert line == "error: cannot write the transcript to no/such/dir/t.html: no such folder"


def test_backfill_when_slack_cannot_be_reached_is_one_line(
    tmp_path: Path, fresh: dict[str, str]
) -> None:
    upgrade(fresh["DATABASE_URL"])
    nobody = f"http://127.0.0.1:{free_port()}/api/"
    result = triage(
        "backfill", cwd=tmp_path, SLACK_BOT_TOKEN="xoxb-1", SLACK_API_URL=nobody, **fresh
    )
    line = one_error_line(result)
    assert line.startswith("error: cannot reach Slack for the channels' history: ")
    assert line.endswith("`triage doctor` checks the settings")


def test_a_chart_that_cannot_be_written_is_one_line(tmp_path: Path, fresh: dict[str, str]) -> None:
    upgrade(fresh["DATABASE_URL"])
    (tmp_path / "taken").write_text("a file, not a folder")
    png = tmp_path / "taken" / "chart.png"
    line = one_error_line(triage("report", "--png", str(png), cwd=tmp_path, **fresh))
    assert line.startswith(f"error: cannot write the chart to {png}: ")
