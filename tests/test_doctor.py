"""`triage doctor`: one line per service, the auth mode Salesforce answered to, the exit code."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from sandbox.world import TOKEN, build_emulator
from tests import salesforce_world
from tests.harness import REPO
from tests.salesforce_world import Org, auth_settings

org, jwt_keys = salesforce_world.org, salesforce_world.jwt_keys  # fixtures


CLI = "from app.cli import main; main()"


def doctor(
    database_url: str | None,
    redis_url: str,
    *,
    cwd: Path = REPO,
    python: str = CLI,
    **settings: object,
) -> subprocess.CompletedProcess[str]:
    """`triage doctor` in a subprocess; with a working Slack (the emulator) unless given one.

    `database_url` None leaves DATABASE_URL unset (the default, relative to `cwd`); `python`
    is the program that runs the CLI (a test may shorten doctor's deadline in it)."""
    if "slack_api_url" not in settings:
        with build_emulator().start() as emu:
            defaults = dict(
                slack_api_url=emu.api_url,
                slack_bot_token=TOKEN,
                slack_signing_secret="s",
                triage_channel="C0TRIAGE",
            )
            merged = {**defaults, **settings}
            return doctor(database_url, redis_url, cwd=cwd, python=python, **merged)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("SLACK_", "TRIAGE_", "SALESFORCE_", "DATABASE_", "REDIS_", "ACCOUNTS_")
        )
    }
    env.update({k.upper(): str(v) for k, v in settings.items()})
    env.update(REDIS_URL=redis_url, PYTHONPATH=str(REPO))
    if database_url is not None:
        env.update(DATABASE_URL=database_url)
    return subprocess.run(
        [sys.executable, "-c", python, "doctor"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=90,
    )


def line_of(result: subprocess.CompletedProcess[str], prefix: str) -> str:
    """The one line of doctor's output that starts with `prefix`."""
    [line] = [line for line in result.stdout.splitlines() if line.startswith(prefix)]
    return line


def test_doctor_names_the_auth_mode_salesforce_answered_to(
    database_url: str, redis_url: str, org: Org
) -> None:
    result = doctor(database_url, redis_url, **auth_settings(org, "password"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "at revision" in line_of(result, "✓ Database: ")
    assert line_of(result, "✓ Redis: answers at 127.0.0.1:6379")
    assert line_of(result, "✓ Salesforce: ") == (
        f"✓ Salesforce: answers at {org.server.url} (auth: username + password)"
    )
    assert "correct horse" not in result.stdout + result.stderr  # no secret, ever


def test_doctor_fails_with_the_fix_when_salesforce_refuses_or_hangs(
    database_url: str, redis_url: str, org: Org
) -> None:
    settings = {**auth_settings(org, "password"), "salesforce_password": "wrong"}
    result = doctor(database_url, redis_url, **settings)
    assert result.returncode == 1
    line = line_of(result, "✗ Salesforce: ")
    assert line.startswith("✗ Salesforce: Salesforce login failed (INVALID_LOGIN)")
    assert "→ check SALESFORCE_USERNAME, SALESFORCE_PASSWORD" in line
    assert "wrong" not in result.stdout + result.stderr

    org.server.fail("HANG", times=3)
    started = time.monotonic()
    settings = {**auth_settings(org, "access token"), "salesforce_timeout_seconds": 1}
    result = doctor(database_url, redis_url, **settings)
    assert result.returncode == 1 and time.monotonic() - started < 60
    assert "✗ Salesforce: Salesforce did not answer within 1 s" in result.stdout


def test_doctor_without_salesforce(database_url: str, redis_url: str) -> None:
    result = doctor(database_url, redis_url, accounts_file=REPO / "sandbox" / "accounts.yaml")
    assert result.returncode == 0
    assert "✓ Accounts file: 5 accounts (5 with a channel) in" in result.stdout

    result = doctor(database_url, redis_url)
    assert result.returncode == 0  # context is optional: a warning, not a failure
    assert "! Salesforce: not configured, and no ACCOUNTS_FILE" in result.stdout

    result = doctor(database_url, "redis://127.0.0.1:1/0")
    assert result.returncode == 1 and "✗ Redis: no answer at 127.0.0.1:1/0" in result.stdout


def test_doctor_says_whether_meaning_is_compared_offline(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    result = doctor(database_url, redis_url, xdg_cache_home=tmp_path / "cache")
    assert (
        line_of(result, "✓ Offline meaning:")
        == f"✓ Offline meaning: the sentence encoder loads; its word table is in "
        f"{tmp_path / 'cache' / 'slack-triage'}"
    )

    unusable = tmp_path / "a-file"  # no folder can be made under a file, even by root
    unusable.write_text("")
    result = doctor(database_url, redis_url, xdg_cache_home=unusable)
    assert "cannot be written: each process holds its 65 MB word table in memory" in (
        line_of(result, "! Offline meaning:")
    )

    result = doctor(database_url, redis_url, local_embeddings="false")
    assert line_of(result, "! Offline meaning:").startswith(
        "! Offline meaning: LOCAL_EMBEDDINGS=false: searches compare words only"
    )
    assert result.returncode == 0  # a warning, not a failure
