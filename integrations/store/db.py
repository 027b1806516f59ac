"""Engine and sessions. SQLite for one process (the default), PostgreSQL in production."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from integrations.store import search_index

MIGRATIONS = Path(__file__).parent / "migrations"


def normalise_url(url: str) -> str:
    """Use psycopg 3 for `postgresql://` URLs (the driver we ship), keep others as given."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def create_db_engine(url: str) -> Engine:
    """An engine with the settings each backend needs for concurrent writers."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # WAL lets the web process read while a worker writes; the busy timeout makes
            # concurrent writers wait instead of failing.
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    # A database that does not answer fails a connection in seconds (Slack's ack waits on the
    # event's write: a 5xx within its 3 s gets a retry), not when the kernel gives up, minutes
    # later. A `connect_timeout` in DATABASE_URL wins.
    timeout = {} if "connect_timeout" in make_url(url).query else {"connect_timeout": 2}
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args=timeout
    )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose every flush also keeps the history search's index current."""
    sessions = sessionmaker(engine, expire_on_commit=False)
    search_index.keep_current(sessions)
    return sessions


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: committed when the block ends, rolled back if it raises."""
    with sessions.begin() as session:
        yield session


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


class MigrationError(Exception):
    """Migrations could not be applied; the message is one line meant for a person."""


def revisions() -> list[str]:
    """Every migration's id, oldest first (the last is the head this code needs)."""
    return [script.revision for script in ScriptDirectory(str(MIGRATIONS)).walk_revisions()][::-1]


def current_revision(connection: Connection) -> str | None:
    """The revision the database was migrated to; None when it has never been migrated.
    (Read directly: Alembic's MigrationContext would log its setup on every command.)"""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations (what `triage db upgrade` runs). An unknown target, or anything else
    Alembic refuses, is a MigrationError naming it rather than Alembic's traceback."""
    cfg = alembic_config(url)
    if not _names_a_revision(cfg, revision):
        raise MigrationError(
            f"no such revision: {revision or '(empty)'}; use `head` or one of "
            + ", ".join(revisions())
        )
    try:
        command.upgrade(cfg, revision)
    except CommandError as exc:
        raise MigrationError(str(exc)) from None


def _names_a_revision(cfg: Config, revision: str) -> bool:
    """`head`, `base` or a migration's id; relative targets (`+1`, `head-1`) are Alembic's to
    judge when it runs."""
    if "+" in revision or "-" in revision:
        return True
    if not revision.strip():
        return False
    try:
        ScriptDirectory.from_config(cfg).get_revisions(revision)
    except CommandError:
        return False
    return True


def storable(value: Any) -> Any:
    """`value` with every NUL character (in strings and keys, however deep) replaced by U+FFFD.

    PostgreSQL's text and jsonb cannot hold NUL, so a message carrying one would fail to be
    stored (a 500, and Slack retrying forever) instead of being stored with a visible mark."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value
