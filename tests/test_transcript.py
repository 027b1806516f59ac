"""The demo's HTML transcript, opened in headless Chromium (Debian's `chromium` package).

`TRIAGE_WRITE_SCREENSHOT=1` also writes the screenshot to docs/demo-transcript.png, the
README's picture (with Debian's fonts-noto-color-emoji installed, so the emoji show).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import REPO

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")
def test_the_transcript_renders_the_conversation(tmp_path: Path) -> None:
    page = tmp_path / "demo-transcript.html"
    demo = subprocess.run(
        [
            sys.executable,
            "-c",
            "from app.cli import main; main()",
            "demo",
            "--transcript",
            str(page),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "REDIS_URL": "redis://127.0.0.1:1"},
    )
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    chrome = [str(CHROMIUM), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(
        [*chrome, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=90
    ).stdout
    # The customers' messages, the cards with their buttons, and the approved replies.
    assert "SAML login fails for all our users since 9am" in dom
    assert "How do I export last month's invoices as CSV?" in dom
    assert "Approve &amp; send" in dom and "Request #1" in dom
    assert "Billing → Invoices → Export, then pick CSV" in dom
    # The escalation channel, beside them: the lead's escalation with its Case, and the breach
    # of the question nobody answered, whose reminder is in its card's thread.
    assert "#escalations</h2>" in dom
    assert "P1 escalation</b> of request #1" in dom and "<b>@Sam (support lead)</b>" in dom
    assert "Case 500LOCAL0000001 opened (High)" in dom
    assert "SLA breached</b> (premium tier): request #6" in dom
    assert "request #6 in <b>#ext-initech</b> has had no answer" in dom
    assert "&lt;!date" not in dom  # Slack's dates are shown as their fallback text
    shot = tmp_path / "transcript.png"
    subprocess.run(
        [
            *chrome,
            "--hide-scrollbars",
            "--window-size=1800,3000",  # the whole page, three columns
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=90,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    if os.environ.get("TRIAGE_WRITE_SCREENSHOT"):
        shutil.copyfile(shot, REPO / "docs" / "demo-transcript.png")
