"""What a `triage` command checks before it starts: that the database opens and is migrated, and
that the internal channels are internal. A deployment not ready for the command stops with one
line naming the problem and the fix (SPEC §3), never with a traceback from deep inside."""

from __future__ import annotations

import os
from typing import Any

import structlog
from slack_sdk.errors import SlackApiError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from integrations.deps import slack_clients
from integrations.settings import ConfigError
from integrations.slack import slack_error
from integrations.slack_installs import NotInstalled
from integrations.store.db import create_db_engine, current_revision, revisions
from workers.delivery import SharedChannelRefused, ensure_internal_channel
from workers.routes import route_channels

log = structlog.get_logger(__name__)


class NotReady(ConfigError):
    """The database is not ready for this command; the message says what to run."""


def require_database(url: str, *, migrated: bool = True, unreachable_ok: bool = False) -> None:
    """Stop unless DATABASE_URL opens and (with `migrated`) holds this version's tables.

    Every command that reads or writes the database calls this first, so "no such table" is
    one line with the fix for all of them. Long-running processes pass `unreachable_ok`: a
    database that is down now may be up in a moment and their sweeps retry, whereas one that
    answers without our tables will not fix itself."""
    try:
        where = database_location(url)
        engine = create_db_engine(url)
    except (ArgumentError, ImportError) as exc:
        raise NotReady(
            f"DATABASE_URL {url!r} is not a database URL we can open ({exc}): "
            "use sqlite:///./triage.db or postgresql://user:password@host/db"
        ) from None
    if migrated and _missing_sqlite_file(url):  # opening it would leave an empty file behind
        raise NotReady(f"The database at {where} has no tables yet: run `triage db upgrade`")
    try:
        with engine.connect() as connection:
            current = current_revision(connection)
    except OperationalError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        if unreachable_ok:
            log.warning("startup.database_unreachable", database=where, error=reason)
            return
        raise NotReady(
            f"cannot open the database at {where}: {reason}; check DATABASE_URL"
        ) from None
    finally:
        engine.dispose()
    if not migrated:
        return
    known = revisions()
    if current is None:
        raise NotReady(f"The database at {where} has no tables yet: run `triage db upgrade`")
    if current in known and current != known[-1]:  # an unknown one is newer code's: let it be
        raise NotReady(
            f"The database at {where} is at revision {current} and this version needs "
            f"{known[-1]}: run `triage db upgrade`"
        )


def database_location(url: str) -> str:
    """Where the database is, for a person: a SQLite file's full path, else the URL without
    its password."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
        return os.path.abspath(parsed.database or "")
    return parsed.render_as_string(hide_password=True)


def _missing_sqlite_file(url: str) -> bool:
    parsed = make_url(url)
    database = parsed.database or ""
    if not parsed.drivername.startswith("sqlite") or database in ("", ":memory:"):
        return False
    return not database.startswith("file:") and not os.path.exists(database)


def before_serving(settings: Any) -> None:
    """What serve, socket and worker check at start: the database is migrated (when it can be
    reached now), and TRIAGE_CHANNEL, every TRIAGE_ROUTES channel and ESCALATION_CHANNEL are
    not shared."""
    require_database(settings.database_url, unreachable_ok=True)
    refuse_shared_channels(settings)


def internal_channels(settings: Any) -> list[tuple[str, str]]:
    """Each channel that must never be shared, once, with the first setting that names it."""
    named = [
        ("TRIAGE_CHANNEL", settings.triage_channel),
        *((f"TRIAGE_ROUTES {rules}", channel) for rules, channel in route_channels(settings)),
        ("ESCALATION_CHANNEL", settings.escalation_channel),
        ("INCIDENT_CHANNEL", settings.incident_channel),
    ]
    first: dict[str, str] = {}
    for name, channel in named:
        if channel:
            first.setdefault(channel, name)
    return [(name, channel) for channel, name in first.items()]


def refuse_shared_channels(settings: Any) -> None:
    """Stop at start when TRIAGE_CHANNEL, a TRIAGE_ROUTES channel or ESCALATION_CHANNEL is
    shared with another organisation (SPEC §5.6): internal notes must never reach a customer.
    Every post checks again. When Slack cannot be asked now, the process starts and the posts'
    checks hold."""
    engine = create_db_engine(settings.database_url)
    try:
        client = slack_clients(settings, engine, None).home()
    except (NotInstalled, SQLAlchemyError) as exc:  # OAuth, nothing installed yet: posts check
        log.warning("startup.channel_check_skipped", why=str(exc))
        return
    finally:
        engine.dispose()
    for name, channel in internal_channels(settings):
        try:
            ensure_internal_channel(client, channel)
        except SharedChannelRefused:
            raise ConfigError(
                f"{name} ({channel}) is shared with another organisation: "
                "use an internal channel, internal notes must never reach a customer"
            ) from None
        except (SlackApiError, OSError) as exc:
            log.warning("startup.channel_check_failed", setting=name, error=slack_error(exc))
