"""CSAT's numbers (SPEC §6.7): customers' answers, one per person, in `triage report` (per
account, the team, and the chart by day) and in App Home's week; our people's clicks nowhere."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console

from app.report_view import csat_text, print_report, write_chart
from integrations.store.db import create_db_engine, session_factory, transaction, upgrade
from sandbox.report_history import seed_history
from tests.csat_world import answered, click, questions, start_csat_world, surveys
from tests.harness import APPROVER, CUSTOMER, CUSTOMER_TEAM, ORG, OUTSIDER
from tests.test_app_home import open_home
from workers.csat import recover_surveys
from workers.ids import ActionId
from workers.report import build_report


def test_the_report_and_home_count_each_customers_latest_answer(
    database_url: str, redis_url: str
) -> None:
    """Two of Globex's requests asked; on the first the customer says 👍, on the second 👎
    then changes it to 👍 and a colleague of theirs says 👎; the approver's click counts
    nowhere. A third request, not yet due, is not counted as asked."""
    with start_csat_world(database_url, redis_url) as world:
        first = answered(world, "How do I export last month's invoices?")
        second = answered(world, "Where do I rotate our API key?")
        recover_surveys(world.deps, now=surveys(world)[-1].due_at)
        world.drain()
        answered(world, "Can we add a second admin to our workspace?")
        [one], [two] = questions(world, first), questions(world, second)
        customer = {"user": CUSTOMER, "team": CUSTOMER_TEAM}
        click(world, one, ActionId.CSAT_GOOD, **customer)
        click(world, two, ActionId.CSAT_BAD, **customer)
        click(world, two, ActionId.CSAT_GOOD, **customer)
        click(world, two, ActionId.CSAT_BAD, user=OUTSIDER, team=CUSTOMER_TEAM)
        click(world, one, ActionId.CSAT_BAD, user=APPROVER, team=ORG)
        with transaction(world.deps.sessions) as session:
            report = build_report(session, since=datetime.now(UTC) - timedelta(days=1))
        home = json.dumps(open_home(world, APPROVER), ensure_ascii=False)
    globex = report.accounts["Globex Corporation"]
    for stats in (report.team, globex):
        assert (stats.requests, stats.csat_asked) == (3, 2)
        assert (stats.csat_good, stats.csat_bad) == (2, 1)
    assert csat_text(globex) == "67% of 3"
    assert "CSAT (customers asked how we did): *67% 👍 (2 👍 · 1 👎 of 2 asked)*" in home
    console = Console(record=True, width=120)
    print_report(report, console)
    [row] = [line for line in console.export_text().splitlines() if "Globex" in line]
    assert row.rstrip(" │").endswith("67% of 3")


def test_history_csat_adds_up_and_is_drawn(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    upgrade(url)
    with transaction(session_factory(create_db_engine(url))) as session:
        seed_history(session, days=14)
        report = build_report(session, since=datetime.now(UTC) - timedelta(days=30))
    team = report.team
    assert 0 < team.csat_good + team.csat_bad < team.csat_asked < team.requests
    for groups in (report.accounts, report.days):
        assert sum(s.csat_asked for s in groups.values()) == team.csat_asked
        assert sum(s.csat_good for s in groups.values()) == team.csat_good
        assert sum(s.csat_bad for s in groups.values()) == team.csat_bad
    assert 0.5 < (team.csat_score or 0) < 1
    png = write_chart(report, tmp_path / "chart.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
