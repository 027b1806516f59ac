"""The demo's HTML transcript, opened in headless Chromium (Debian's `chromium` package)."""

from __future__ import annotations

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
    shot = tmp_path / "transcript.png"
    subprocess.run(
        [
            *chrome,
            "--hide-scrollbars",
            "--window-size=1400,1500",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=90,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
