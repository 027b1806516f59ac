"""`triage report`: the numbers, through the real app and on two weeks of history; the chart."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.report_view import write_chart
from integrations.store.db import create_db_engine, session_factory, transaction, upgrade
from integrations.store.models import Request, RequestState
from sandbox.report_history import seed_history
from tests.harness import World, triage_cli
from workers.ids import ActionId
from workers.report import NoSuchAccount, Report, Stats, build_report, parse_since


def test_an_approved_answer_is_counted_with_its_first_response_time(world: World) -> None:
    world.customer_says("Where do I find the audit log?")
    world.drain()
    world.click(ActionId.APPROVE_DRAFT, world.cards()[0])
    world.drain()
    with transaction(world.deps.sessions) as session:
        report = build_report(session, since=datetime.now(UTC) - timedelta(days=1))
    assert report.team.requests == 1 and report.team.approved_unchanged == 1
    assert report.team.median_first_response is not None
    assert report.team.median_first_response < 1  # minutes: it was answered at once


def test_a_request_closed_as_needing_no_reply_makes_no_row(world: World) -> None:
    world.customer_says("thanks!")
    world.drain()
    since = datetime.now(UTC) - timedelta(days=1)
    with transaction(world.deps.sessions) as session:
        [thanks] = session.scalars(select(Request)).all()
        report = build_report(session, since=since)
        with pytest.raises(NoSuchAccount, match=r"^no such account: Nope; known accounts: #C"):
            build_report(session, since=since, account="Nope")  # PostgreSQL's JSON, too
        quiet = build_report(session, since=since, account=thanks.channel_id)
    assert thanks.state == RequestState.CLOSED and not world.cards()
    assert report.team.requests == 0 and report.accounts == {} and report.days == {}
    assert quiet.accounts == {}  # a known account with nothing to count: no error


def test_history_adds_up_per_account_and_per_day(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    upgrade(url)
    engine = create_db_engine(url)
    with transaction(session_factory(engine)) as session:
        written = seed_history(session, days=14)
        report = build_report(session, since=parse_since("30d"))
        initech = build_report(session, since=parse_since("30d"), account="initech")
    assert report.team.requests == written
    assert sum(s.requests for s in report.accounts.values()) == written
    assert sum(s.requests for s in report.days.values()) == written and len(report.days) == 14
    assert 0 < (report.team.sla_compliance or 0) < 1
    assert list(initech.accounts) == ["Initech"]
    assert initech.team.requests == report.accounts["Initech"].requests


def test_the_cli_prints_the_table_and_writes_a_png(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    upgrade(url)
    with transaction(session_factory(create_db_engine(url))) as session:
        seed_history(session, days=7)
    png = tmp_path / "chart.png"
    env = {**os.environ, "DATABASE_URL": url, "COLUMNS": "100"}
    result = triage_cli("report", "--since", "14d", "--png", str(png), env=env)
    assert result.returncode == 0, result.stderr
    assert "Globex Corporation" in result.stdout and "team" in result.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    bad = triage_cli("report", "--since", "lately", env=env, timeout=60)
    assert bad.returncode == 2 and "--since 'lately'" in bad.stderr
    nope = triage_cli("report", "--account", "Nope", env=env, timeout=60)
    assert nope.returncode == 2 and "Traceback" not in nope.stderr
    assert nope.stderr.strip().splitlines() == [
        "error: no such account: Nope; known accounts: Globex Corporation, Initech, Umbrella"
    ]
    quiet = triage_cli("report", "--account", "initech", "--since", "1h", env=env, timeout=60)
    assert quiet.returncode == 0 and "No requests in this period." in quiet.stdout


def test_the_chart_goes_where_the_cli_says(tmp_path: Path) -> None:
    empty = Report(datetime.now(UTC), Stats(), {}, {})
    assert write_chart(empty, tmp_path) == tmp_path / "triage-report.png"  # into a folder
    assert write_chart(empty, tmp_path / "chart") == tmp_path / "chart.png"  # matplotlib's name
    assert (tmp_path / "triage-report.png").exists() and (tmp_path / "chart.png").exists()
