"""Configuration errors are one clear line naming the variable, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from integrations.settings import ConfigError, load_settings
from tests.harness import REPO


def _triage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "TRIAGE_", "SLA_", "DATABASE_", "REDIS_"))
    }
    return subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", *args],
        env={**clean, **env},
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_missing_required_setting_is_one_line_naming_it() -> None:
    result = _triage("worker")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: SLACK_BOT_TOKEN is not set: the bot token (xoxb-...) from your Slack app's "
        "OAuth & Permissions page (or, for OAuth installs, SLACK_CLIENT_ID and SLACK_CLIENT_SECRET)"
    ]
    result = _triage("worker", SLACK_BOT_TOKEN="xoxb-1")
    assert "TRIAGE_CHANNEL is not set" in result.stderr and result.returncode == 2


def test_a_malformed_setting_is_one_line_naming_it() -> None:
    result = _triage("worker", SLA_MINUTES="enterprise=fast")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "SLA_MINUTES" in result.stderr and "fast" in result.stderr


def test_documented_formats_parse() -> None:
    settings = load_settings(
        _env_file=None,
        sla_minutes="Enterprise=7.5, standard=240",
        case_priority="p1=Critical,P4=Low",
        support_leads="U1, S2 ,",
        slack_api_url="http://127.0.0.1:9/api",
    )
    assert settings.sla_minutes == {"enterprise": 7.5, "standard": 240.0}
    assert settings.case_priority == {"P1": "Critical", "P4": "Low"}
    assert settings.support_leads == ["U1", "S2"]
    assert settings.slack_api_url.endswith("/api/")
    with pytest.raises(ConfigError, match="GROUPING_MINUTES"):
        load_settings(_env_file=None, grouping_minutes=-1)


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        # BUSINESS_HOURS names its time zone; SUGGEST_WORKING_HOURS is in each person's own.
        ("business_hours", "mon-fri 09:00-18:00 Europe/Paris", "mon-fri 09:00-18:00"),
        ("suggest_working_hours", "mon-fri 09:00-18:00", "mon-fri 25:00-18:00"),
    ],
)
def test_hours_are_checked_when_the_settings_load(name: str, good: str, bad: str) -> None:
    assert getattr(load_settings(_env_file=None, **{name: good}), name) == good
    with pytest.raises(ConfigError, match=f"^{name.upper()} is invalid"):
        load_settings(_env_file=None, **{name: bad})


def test_env_example_lists_every_setting() -> None:
    from integrations.settings import Settings

    example = (REPO / ".env.example").read_text()
    missing = [name.upper() for name in Settings.model_fields if f"{name.upper()}=" not in example]
    assert missing == []


def test_env_example_is_read_the_same_by_docker_and_by_the_app(tmp_path: Path) -> None:
    """Docker's env_file, systemd's EnvironmentFile and `docker-compose` v1 take everything
    after `=` literally, so a comment on a setting's line would become its value."""
    from integrations.settings import Settings

    example = (REPO / ".env.example").read_text()
    inline = [
        line
        for line in example.splitlines()
        if line.strip() and not line.startswith("#") and ("#" in line or line[0].isspace())
    ]
    assert inline == []
    # Copied as .env, the example is the defaults (empty means unset).
    copied = tmp_path / ".env"
    copied.write_text(example)
    assert Settings(_env_file=copied) == Settings(_env_file=None)  # type: ignore[call-arg]
