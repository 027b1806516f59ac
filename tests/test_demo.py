"""`triage demo`, the README's first command, runs to the end with no services or credentials."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.harness import REPO


def test_demo_runs_every_step_and_exits_zero() -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DATABASE_", "REDIS_", "TRIAGE_", "OPENAI_"))
    }
    env["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there: the demo needs no Redis
    result = subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", "demo"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Every step happened" in result.stdout
    assert "✗" not in result.stdout
