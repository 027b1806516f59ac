"""`triage doctor`'s database line: what failed, in the server's words, and what to do; and no
file created where there is no database yet."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from app.doctor_services import check_database
from integrations.settings import load_settings
from integrations.store.db import upgrade
from tests.harness import LocalServer
from tests.test_doctor import doctor, line_of

URL_FIX = "→ use postgresql+psycopg://user:pass@host:5432/db or sqlite:///path/triage.db"


def database_line(database_url: str) -> str:
    return check_database(load_settings(database_url=database_url)).line()


def test_a_url_that_is_not_one_we_can_use_says_which_to_use() -> None:
    assert database_line("garbage") == f"✗ Database: DATABASE_URL is not a database URL {URL_FIX}"
    assert database_line("mysql://triage:pw@127.0.0.1:3306/triage") == (
        "✗ Database: DATABASE_URL is a mysql URL: triage keeps its data in PostgreSQL or SQLite "
        + URL_FIX
    )
    assert database_line("sqlite://") == (
        "✗ Database: DATABASE_URL is an in-memory SQLite database: nothing would be kept " + URL_FIX
    )


@pytest.mark.parametrize(
    ("part", "value", "said"),
    [
        (
            "username",
            "nobody_of_ours",
            ': role "nobody_of_ours" does not exist → check the user in DATABASE_URL, or create '
            "that role in PostgreSQL",
        ),
        (
            "database",
            "triage_no_such_db",
            ': database "triage_no_such_db" does not exist → create it (createdb '
            "triage_no_such_db) or fix its name in DATABASE_URL, then migrate",
        ),
    ],
)
def test_the_servers_refusal_is_said_in_words_with_its_fix(
    postgres_url: str, part: str, value: str, said: str
) -> None:
    """The real PostgreSQL's answers we can provoke with trust auth: no such role or database."""
    url = make_url(postgres_url).set(**{part: value}).render_as_string(hide_password=False)
    line = database_line(url)
    assert line.endswith(said), line
    assert "OperationalError" not in line


class PasswordRefusingServer(LocalServer):
    """A local server speaking PostgreSQL's wire protocol (v3) that asks for the password and
    refuses it, as a server with password auth does (the local one trusts every login)."""

    def __init__(self) -> None:
        self.passwords: list[bytes] = []
        super().__init__()

    def handle(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(10)
            self._refuse(connection)

    def _refuse(self, connection: socket.socket) -> None:
        while True:
            body = _read(connection, struct.unpack("!i", _read(connection, 4))[0] - 4)
            if struct.unpack("!i", body[:4])[0] in (80877103, 80877104):  # SSL, GSS encryption
                connection.sendall(b"N")  # not offered here
                continue
            break
        params = body[4:].split(b"\0")
        user = dict(zip(params[::2], params[1::2], strict=False)).get(b"user", b"").decode()
        connection.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
        assert _read(connection, 1) == b"p"  # PasswordMessage
        self.passwords.append(_read(connection, struct.unpack("!i", _read(connection, 4))[0] - 4))
        message = f'password authentication failed for user "{user}"'
        fields = b"SFATAL\0VFATAL\0C28P01\0M" + message.encode() + b"\0\0"
        connection.sendall(b"E" + struct.pack("!i", len(fields) + 4) + fields)


def _read(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


@pytest.fixture
def refusing() -> Iterator[PasswordRefusingServer]:
    server = PasswordRefusingServer()
    yield server
    server.close()


def test_a_wrong_password_is_said_in_words(refusing: PasswordRefusingServer) -> None:
    line = database_line(f"postgresql://alice:wrong-pw@127.0.0.1:{refusing.port}/triage")
    assert line == (
        f"✗ Database: cannot connect to postgresql://alice:***@127.0.0.1:{refusing.port}/triage: "
        'password authentication failed for user "alice" → check the user and password in '
        "DATABASE_URL (%-encode @ : / in the password)"
    )
    assert refusing.passwords == [b"wrong-pw\0"]  # it was asked, and said it, as a real one


def test_doctor_creates_no_sqlite_database(tmp_path: Path, redis_url: str) -> None:
    """The default DATABASE_URL (./triage.db) where there is none yet: said, and not created."""
    result = doctor(None, redis_url, cwd=tmp_path)
    assert line_of(result, "✗ Database: ") == (
        "✗ Database: no database yet at ./triage.db → run `triage db upgrade`"
    )
    assert result.returncode == 1
    assert list(tmp_path.iterdir()) == []


def test_an_existing_sqlite_database_is_checked_and_left_as_it_was(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/triage.db"
    upgrade(url)
    before = sorted(path.name for path in tmp_path.iterdir())
    assert database_line(url).startswith(f"✓ Database: {url} at revision ")
    assert sorted(path.name for path in tmp_path.iterdir()) == before
