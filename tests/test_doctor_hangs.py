"""`triage doctor` against services that accept a connection and never answer: it still exits
within the minute the README promises, with a ✗ line for each, and nothing but its own lines."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from tests.harness import LocalServer
from tests.test_doctor import doctor, line_of

SLOW_CLIENTS_SHORT_DEADLINE = (
    "import app.doctor, app.doctor_apis, app.doctor_services; app.doctor.CHECK_SECONDS = 2; "
    "app.doctor_services.CONNECT_SECONDS = app.doctor_apis._SLACK_SECONDS = 40; "
    "from app.cli import main; main()"
)


class Silent(LocalServer):
    """A TCP server on a free local port that accepts every connection and never answers."""

    def __init__(self) -> None:
        self._accepted: list[socket.socket] = []
        super().__init__(backlog=64)

    def handle(self, connection: socket.socket) -> None:
        self._accepted.append(connection)  # held open, never read nor written

    def close(self) -> None:
        super().close()
        for connection in self._accepted:
            connection.close()


@pytest.fixture
def silent() -> Iterator[list[Silent]]:
    """Three silent servers: a database, a Redis and a Slack that hang."""
    servers = [Silent(), Silent(), Silent()]
    yield servers
    for server in servers:
        server.close()


def test_doctor_reports_a_hanging_database_redis_and_slack_within_a_minute(
    silent: list[Silent],
) -> None:
    database, redis, slack = silent
    started = time.monotonic()
    result = doctor(
        f"postgresql://triage:secret@127.0.0.1:{database.port}/triage",
        f"redis://127.0.0.1:{redis.port}/0",
        slack_api_url=f"http://127.0.0.1:{slack.port}/api/",
        slack_bot_token="xoxb-hanging",
        slack_signing_secret="s",
        triage_channel="C0TRIAGE",
    )
    assert time.monotonic() - started < 60, result.stdout
    assert result.returncode == 1
    # Each client's own timeout answered, not just doctor's deadline: the lines say why.
    assert line_of(result, "✗ Database: ") == (
        f"✗ Database: cannot connect to postgresql://triage:***@127.0.0.1:{database.port}/"
        "triage: no answer within 8 s → check that the server is up and reachable from here "
        "(host, port, firewall)"
    )
    assert line_of(result, "✗ Redis: ").startswith(
        f"✗ Redis: no answer at 127.0.0.1:{redis.port}/0 (TimeoutError) → check REDIS_URL"
    )
    assert line_of(result, "✗ Slack: ").startswith(
        f"✗ Slack: cannot reach http://127.0.0.1:{slack.port}/api/ (TimeoutError)"
    )
    assert line_of(result, "✗ TRIAGE_CHANNEL: ").startswith(
        "✗ TRIAGE_CHANNEL: C0TRIAGE unchecked: Slack did not answer (TimeoutError)"
    )
    # Only doctor's lines: slack_sdk's own "Failed to send a request" log stays out.
    assert result.stderr == ""
    assert "secret" not in result.stdout


def test_doctor_abandons_a_check_at_its_deadline_and_exits(silent: list[Silent]) -> None:
    """A check still hanging at the deadline is reported and left behind: its thread cannot
    hold the process. Here the deadline is 2 s and the clients wait 40 s."""
    database, redis, slack = silent
    started = time.monotonic()
    result = doctor(
        f"postgresql://triage@127.0.0.1:{database.port}/triage",
        f"redis://127.0.0.1:{redis.port}/0",
        python=SLOW_CLIENTS_SHORT_DEADLINE,
        slack_api_url=f"http://127.0.0.1:{slack.port}/api/",
        slack_bot_token="xoxb-hanging",
        slack_signing_secret="s",
        triage_channel="C0TRIAGE",
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    for service in ("Slack", "TRIAGE_CHANNEL", "Database", "Redis"):
        assert line_of(result, f"✗ {service}: ") == (
            f"✗ {service}: no answer within 2 s → check that the service is up and reachable "
            "from here"
        )
    assert elapsed < 30, elapsed  # not waiting for the clients' 40 s
    assert result.stderr == ""
