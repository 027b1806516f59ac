"""`triage demo`, the README's first command, runs to the end with no services or credentials."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.harness import REPO

DEMO_BUDGET_SECONDS = 60  # the story waits ~15 s on purpose, for an SLA clock to run out


def test_demo_runs_every_step_and_exits_zero() -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DATABASE_", "REDIS_", "TRIAGE_", "OPENAI_"))
    }
    env["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there: the demo needs no Redis
    env["COLUMNS"] = "200"  # one narrated line per line, whatever the terminal
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", "demo"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.monotonic() - started
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    assert "Every step happened" in out
    assert "✗" not in out
    assert elapsed < DEMO_BUDGET_SECONDS, f"the demo took {elapsed:.0f} s"
    # The support lead's /escalate: his ephemeral answer, the post, the Case.
    assert "/escalate http://127.0.0.1:" in out
    assert "only Sam sees: 🚨 Escalated request #1 as P1." in out
    assert "🚨 *P1 escalation* of request #1 from @Carol (Globex) in #ext-globex by @Sam" in out
    assert "📁 Case 500LOCAL0000001 opened (High)" in out
    # Peter's unanswered question: the 75% reminder to Initech's owner, then the breach.
    assert "in the card's thread: ⏰ @Ben (support) request #6 in #ext-initech has had" in out
    assert "in #escalations: 🔥 *SLA breached* (premium tier): request #6" in out
