"""The demo's HTML transcript, opened in headless Chromium (Debian's `chromium` package).

`TRIAGE_WRITE_SCREENSHOT=1` also writes the screenshot to docs/demo-transcript.png, the
README's picture (with Debian's fonts-noto-color-emoji installed, so the emoji show).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.transcript import write_transcript
from sandbox.world import build_emulator
from tests.harness import APPROVER, CUSTOMER, REPO, SHARED, TRIAGE

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
    # Each card shows the customer's words once, its link right under the quote: Carol's
    # message is in her channel, on her card and on the escalation post, nowhere else.
    assert dom.count("SAML login fails for all our users since 9am") == 3
    assert dom.count("How do I export last month's invoices as CSV?") == 2
    assert "</blockquote>\n" not in dom and "\n<blockquote>" not in dom  # no empty line
    assert "<blockquote>How do I export last month's invoices as CSV?\nideally split" in dom
    # Alice's thank-you is shown, with why it has no card.
    assert "<b>Demo note:</b> Request #3 (closed): triage found a thank-you" in dom
    # One clock: the real one, in UTC, on the messages as in the terminal's steps.
    times = re.findall(r'<span class="when">(\d\d:\d\d:\d\d)</span>', dom)
    first_step = re.findall(r"^(\d\d:\d\d:\d\d) ", demo.stdout, re.M)[0]
    assert len(times) > 15, times
    for when in times:  # within the minute after the terminal's first step, as it ran
        after = (_seconds(when) - _seconds(first_step) + 43200) % 86400 - 43200
        assert -1 <= after <= 60, (when, first_step)
    # (Not "no 09:02 anywhere": a suggested colleague's local time can read 09:02 by chance.)
    assert "every time on this page is UTC" in dom
    shot = tmp_path / "transcript.png"
    subprocess.run(
        [
            *chrome,
            "--hide-scrollbars",
            "--window-size=1800,4300",  # the whole page, three columns
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=90,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    if os.environ.get("TRIAGE_WRITE_SCREENSHOT"):
        shutil.copyfile(shot, REPO / "docs" / "demo-transcript.png")


def test_what_people_wrote_is_escaped_on_the_page(tmp_path: Path) -> None:
    """A link's URL is an attribute: a quote in it cannot end the attribute and add another."""
    with build_emulator() as emu:
        asked = emu.post_as_user(
            SHARED, CUSTOMER, f"<https://x.test/?q=' onmouseover='alert(1)|docs> for <@{APPROVER}>"
        )
        emu.post_as_user(SHARED, CUSTOMER, "<script>alert(2)</script>", thread_ts=asked["ts"])
        page = write_transcript(
            emu, tmp_path / "t.html", customer_channels=[SHARED], triage_channel=TRIAGE, title="t"
        ).read_text()
    assert "href='https://x.test/?q=&#x27; onmouseover=&#x27;alert(1)' target='_blank'>docs" in page
    assert "docs</a> for <b>@Amy (account manager)</b>" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert(2)&lt;/script&gt;" in page


def _seconds(hh_mm_ss: str) -> int:
    hours, minutes, seconds = (int(part) for part in hh_mm_ss.split(":"))
    return hours * 3600 + minutes * 60 + seconds
