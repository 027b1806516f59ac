"""The checks of `triage doctor` that reach our own services: the database, Redis and the CRM.

Each returns a `CheckResult` (one line, with the fix) and has its own client timeout,
`CONNECT_SECONDS`, well inside doctor's shared deadline. Doctor creates no files: a SQLite
database that does not exist yet is reported, not created.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from integrations.array_cache import cache_dir
from integrations.deps import build_account_directory
from integrations.llm import ModelUnavailable
from integrations.local_embeddings import TABLE_NAME, LocalEmbedder
from integrations.salesforce import CrmUnavailable
from integrations.settings import ConfigError, Settings
from integrations.store.db import alembic_config, normalise_url

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.engine import URL

CONNECT_SECONDS = 8  # each client's own timeout: well inside doctor's deadline
_DB_FIX = "use postgresql+psycopg://user:pass@host:5432/db or sqlite:///path/triage.db"


@dataclass(frozen=True)
class CheckResult:
    service: str
    ok: bool | None  # None: works, with a warning
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = {True: "✓", False: "✗", None: "!"}[self.ok]
        fix = f" → {self.fix}" if self.fix and self.ok is not True else ""
        return f"{mark} {self.service}: {self.detail}{fix}"


def check_database(settings: Settings) -> CheckResult:
    """The URL is one we can use, the database exists and answers, and is migrated to head."""

    try:
        url = make_url(settings.database_url)
    except ArgumentError:
        return CheckResult("Database", False, "DATABASE_URL is not a database URL", _DB_FIX)
    backend = url.get_backend_name()
    if backend not in ("postgresql", "sqlite"):
        return CheckResult(
            "Database",
            False,
            f"DATABASE_URL is a {backend} URL: triage keeps its data in PostgreSQL or SQLite",
            _DB_FIX,
        )
    where = url.render_as_string(hide_password=True)
    if backend == "sqlite":
        path = _sqlite_path(url)
        if path is None:
            return CheckResult(
                "Database",
                False,
                "DATABASE_URL is an in-memory SQLite database: nothing would be kept",
                _DB_FIX,
            )
        if not Path(path).exists():
            return CheckResult(
                "Database", False, f"no database yet at {path}", "run `triage db upgrade`"
            )
    try:
        engine = doctor_engine(settings.database_url)
    except (ImportError, SQLAlchemyError) as exc:  # a driver not installed (psycopg2...)
        return CheckResult(
            "Database", False, f"cannot use {where} ({type(exc).__name__}: {exc})", _DB_FIX
        )
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                timeout = CONNECT_SECONDS * 1000
                connection.execute(text(f"SET LOCAL statement_timeout = {timeout}"))
            current = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        reason, fix = _database_failure(exc, url.database or "NAME")
        return CheckResult("Database", False, f"cannot connect to {where}: {reason}", fix)
    finally:
        engine.dispose()
    head = ScriptDirectory.from_config(alembic_config(settings.database_url)).get_current_head()
    if current != head:
        return CheckResult(
            "Database",
            False,
            f"{where} is at revision {current or 'none'}, the code needs {head}",
            "run `triage db upgrade`",
        )
    return CheckResult("Database", True, f"{where} at revision {head}")


def doctor_engine(database_url: str) -> Engine:
    """An engine that gives up on connecting after `CONNECT_SECONDS` and never creates a file.

    Not the app's engine: no pool to close, a PostgreSQL connect timeout (psycopg's default is
    130 s), and SQLite opened read-write only, so a missing file is an error, not a new file.
    """

    url = make_url(normalise_url(database_url))
    if url.get_backend_name() == "sqlite":
        path = _sqlite_path(url) or ":memory:"
        target = f"file:{quote(path)}?mode=rw" if path != ":memory:" else path
        return create_engine(
            "sqlite://",
            poolclass=NullPool,
            creator=lambda: sqlite3.connect(target, uri=True, timeout=CONNECT_SECONDS),
        )
    return create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": CONNECT_SECONDS})


def _sqlite_path(url: URL) -> str | None:
    """The file a SQLite URL names (relative to the working directory), None for in-memory."""
    database = url.database or ""
    if url.query.get("uri") and database.startswith("file:"):
        database = unquote(database.removeprefix("file:").split("?")[0])
    return None if database in ("", ":memory:") else database


def _database_failure(exc: Exception, name: str) -> tuple[str, str]:
    """The server's or the driver's reason in words (not "OperationalError"), and its fix."""
    lines = str(getattr(exc, "orig", None) or exc).splitlines() or [""]
    # psycopg: 'connection failed: connection to server at "h", port 5432 failed: FATAL:  ...'
    reason = lines[0].rsplit(" failed: ", 1)[-1].removeprefix("FATAL:").strip()
    reason = reason or type(exc).__name__
    if "timeout expired" in reason:
        return (
            f"no answer within {CONNECT_SECONDS} s",
            "check that the server is up and reachable from here (host, port, firewall)",
        )
    if "password authentication failed" in reason:
        fix = "check the user and password in DATABASE_URL (%-encode @ : / in the password)"
    elif reason.startswith("role ") and "does not exist" in reason:
        fix = "check the user in DATABASE_URL, or create that role in PostgreSQL"
    elif reason.startswith("database ") and "does not exist" in reason:
        fix = f"create it (createdb {name}) or fix its name in DATABASE_URL, then migrate"
    elif "Connection refused" in reason:
        fix = "start PostgreSQL, or fix the host and port in DATABASE_URL"
    elif "resolve host" in reason:
        fix = "check the host name in DATABASE_URL"
    elif "unable to open database file" in reason:
        fix = "check the path in DATABASE_URL and that this user can read and write it"
    else:
        fix = "check DATABASE_URL and that the server is up"
    return reason[:200], fix


def check_redis(settings: Settings) -> CheckResult:

    client = Redis.from_url(settings.redis_url, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
    except RedisError as exc:
        return CheckResult(
            "Redis",
            False,
            f"no answer at {_redis_where(settings)} ({type(exc).__name__})",
            "check REDIS_URL and that Redis is up",
        )
    finally:
        client.close()
    return CheckResult("Redis", True, f"answers at {_redis_where(settings)}")


def check_crm(settings: Settings) -> CheckResult:
    """Salesforce when configured (which auth mode, and does it answer), else ACCOUNTS_FILE."""

    try:
        directory = build_account_directory(settings)
    except ConfigError as exc:
        return CheckResult(
            "Salesforce", False, str(exc), "see the Salesforce section of the README"
        )
    if directory is None:
        return CheckResult(
            "Salesforce",
            None,
            "not configured, and no ACCOUNTS_FILE: cards say context unavailable",
            "set SALESFORCE_* (see .env.example) or ACCOUNTS_FILE",
        )
    service = "Accounts file" if directory.mode == "accounts file" else "Salesforce"
    try:
        detail = directory.check()
    except CrmUnavailable as exc:
        return CheckResult(service, False, exc.reason, _crm_fix(exc.reason, directory.mode))
    return CheckResult(service, True, detail)


def _crm_fix(reason: str, mode: str) -> str:
    if "login failed" in reason:
        if mode == "JWT bearer":
            return (
                "check SALESFORCE_CONSUMER_KEY, SALESFORCE_USERNAME (pre-authorized for the "
                "connected app), the key in SALESFORCE_PRIVATE_KEY_FILE and SALESFORCE_DOMAIN"
            )
        return (
            "check SALESFORCE_USERNAME, SALESFORCE_PASSWORD, SALESFORCE_SECURITY_TOKEN and "
            "SALESFORCE_DOMAIN (login; test for a sandbox)"
        )
    if "session expired" in reason:
        return "put a fresh token in SALESFORCE_ACCESS_TOKEN, or use password or JWT auth"
    if "limit" in reason:
        return "the org's daily API allowance is spent; wait, or raise it in Salesforce"
    if "rejected the query" in reason:
        return (
            "check that SALESFORCE_CHANNEL_FIELD and SALESFORCE_TIER_FIELD exist on Account "
            "and that the user can read them"
        )
    if "ACCOUNTS_FILE" in reason:
        return "fix the file (see sandbox/accounts.yaml for the format)"
    return "check SALESFORCE_INSTANCE_URL / SALESFORCE_DOMAIN and the network"


def _redis_where(settings: Settings) -> str:

    parts = urlsplit(settings.redis_url)
    return f"{parts.hostname}:{parts.port or 6379}{parts.path or ''}"


def check_offline_meaning(settings: Settings) -> CheckResult:
    """The sentence encoder the package ships loads (it compares meaning without a model API,
    and the offline classifier reads it), and its word table is cached where every process
    on the machine can share it."""
    name = "Offline meaning"
    if not settings.local_embeddings:
        return CheckResult(
            name,
            None,
            "LOCAL_EMBEDDINGS=false: searches compare words only, the classifier reads words alone",
            "set LOCAL_EMBEDDINGS=true to compare meaning across languages",
        )
    try:
        LocalEmbedder().warm_up()
    except ModelUnavailable as exc:
        return CheckResult(name, None, f"{exc}: words only", "reinstall the package")
    folder = cache_dir()
    if not (folder / f"{TABLE_NAME}.npy").exists():
        return CheckResult(
            name,
            None,
            f"the sentence encoder loads, but {folder} cannot be written: each process holds "
            "its 65 MB word table in memory",
            "make that folder writable, or point XDG_CACHE_HOME at one that is",
        )
    return CheckResult(name, True, f"the sentence encoder loads; its word table is in {folder}")
