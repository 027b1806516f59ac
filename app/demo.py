"""`triage demo`: five customers' Slack Connect channels, through the real app and real jobs.

No credentials and no services: SQLite in a temporary folder, the jobs in a thread of this
process, and the local Slack emulator (`sandbox/`) as Slack. Events and slash commands are
signed and POSTed to the real `/slack/events`; the app answers through the real slack_sdk
client. The story itself is `app.demo_story`. The demo checks every step it narrates and
exits non-zero if one did not happen. It keeps one clock, the real one, in UTC: the times it
narrates are the times on the messages, the page and the SLA deadlines.
"""

from __future__ import annotations

import secrets
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from werkzeug.serving import make_server

from app.demo_story import play
from app.demo_world import CUSTOMER_CHANNELS, Demo, add_outage_customers
from app.main import create_app
from app.transcript import (
    write_transcript,
)
from app.web import create_web
from integrations.accounts_file import AccountsFile
from integrations.deps import Deps
from integrations.settings import load_settings
from integrations.store.db import upgrade
from sandbox import world as w
from workers.inline import InlineQueues

ACCOUNTS = Path(w.__file__).with_name("accounts.yaml")  # Globex, Initech, Umbrella, and two
# more whose customers report Globex's outage (app.demo_world)
KNOWLEDGE = Path(w.__file__).with_name("knowledge")  # help articles the drafts may quote
# Initech's premium tier answers within 15 seconds instead of an hour, around the clock, so
# one of its requests really runs out of time while the demo plays. Umbrella keeps its own
# business hours (sandbox/accounts.yaml) and the standard tier's four hours.
SLA_MINUTES = "enterprise=15,premium=0.25,standard=240"
# "How did we do?" 15 seconds after an answer instead of an hour: Peter's comes while the demo
# waits for his other question's SLA breach (app.demo_csat).
CSAT_AFTER_MINUTES = 0.25
# Initech lets routine questions be answered without waiting for a person (AUTO_SEND): Milton's
# re-ask of what Amy answered for Peter goes by itself (app.demo_auto_send).
AUTO_SEND = f"channel:{w.INITECH}"
AUTO_SEND_CATEGORIES = "question,billing"
TITLE = "five customers' Slack Connect channels and one support team"
BUSINESS_HOURS = "mon-sun 00:00-24:00 UTC"


def run_demo(console: Console | None = None, transcript: Path | None = None) -> int:
    """Play the story (and write it as an HTML page); 0 when every step happened."""
    console = console or Console()
    emu = w.build_emulator()
    add_outage_customers(emu)
    emu.start()
    workdir = Path(tempfile.mkdtemp(prefix="triage-demo-"))
    database_url = f"sqlite:///{workdir / 'triage.db'}"
    upgrade(database_url)
    secret = secrets.token_hex(16)
    settings = load_settings(
        _env_file=None,
        slack_bot_token=w.TOKEN,
        slack_signing_secret=secret,
        slack_api_url=emu.api_url,
        database_url=database_url,
        triage_channel=w.TRIAGE,
        escalation_channel=w.ESCALATIONS,
        incident_channel=w.ESCALATIONS,  # the outage's incident card (SPEC §6.6)
        support_leads=w.LEAD,
        sla_minutes=SLA_MINUTES,
        csat_after_minutes=CSAT_AFTER_MINUTES,
        auto_send=AUTO_SEND,
        auto_send_categories=AUTO_SEND_CATEGORIES,
        business_hours=BUSINESS_HOURS,
        knowledge_dir=str(KNOWLEDGE),
    )
    deps = Deps.build(settings)
    deps.accounts = AccountsFile(ACCOUNTS)  # the demo's CRM, whatever the environment says
    queues = InlineQueues()
    deps.queues = queues
    queues.bind(deps)
    server = make_server("127.0.0.1", 0, create_web(create_app(deps), deps), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    demo = Demo(console, deps, queues, f"http://127.0.0.1:{server.server_port}", secret, emu)
    started = datetime.now(UTC)
    try:
        play(demo)
        if transcript is not None:
            write_transcript(
                emu,
                transcript,
                title=f"triage demo: {TITLE}",
                intro=(
                    f"Played on {started:%A %-d %B %Y}, from {started:%H:%M:%S} to "
                    f"{datetime.now(UTC):%H:%M:%S} UTC; every time on this page is UTC, as "
                    "in the terminal. Slack is the local emulator and the app is the real one: "
                    "what it posted is drawn from its own blocks. Dashed notes are the demo's "
                    "explanations, not Slack messages."
                ),
                notes=demo.notes,
                customer_channels=CUSTOMER_CHANNELS,
                triage_channel=w.TRIAGE,
                escalation_channel=w.ESCALATIONS,
            )
            console.print(f"\nThe whole conversation, as a page: {transcript.resolve()}")
    finally:
        queues.close()
        server.shutdown()
        deps.close()
        emu.stop()
    if demo.failures:
        console.print(f"\n[red bold]Demo failed:[/] {len(demo.failures)} step(s) did not happen.")
        return 1
    console.print(f"\n[green bold]Every step happened.[/] Database: {workdir / 'triage.db'}")
    return 0
