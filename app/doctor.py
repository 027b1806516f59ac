"""`triage doctor`: check the configuration by really reaching each service.

One line per service, ✓ or ✗ (or ! for something that works but deserves a look) with the fix.
Every check runs in its own thread with a deadline, so a service that hangs costs at most
`CHECK_SECONDS` and the whole run finishes within a minute. The exit code is non-zero when a
required check fails. Slack, the channels and OpenAI are checked in `app/doctor_apis.py`.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from dataclasses import dataclass

from app.settings import ConfigError, Settings
from integrations.salesforce import CrmUnavailable

CHECK_SECONDS = 20.0


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


def run_doctor(settings: Settings, echo: Callable[[str], None]) -> int:
    """Run every check, print one line each; 0 when no required check failed."""
    from app.doctor_apis import (
        check_escalation_channel,
        check_openai,
        check_slack,
        check_triage_channel,
    )

    checks: list[tuple[str, Callable[[Settings], CheckResult]]] = [
        ("Slack", check_slack),
        ("TRIAGE_CHANNEL", check_triage_channel),
        ("ESCALATION_CHANNEL", check_escalation_channel),
        ("Database", check_database),
        ("Redis", check_redis),
        ("CRM", check_crm),
        ("OpenAI", check_openai),
    ]
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=len(checks))
    futures = [(name, pool.submit(check, settings)) for name, check in checks]
    failed = False
    for name, future in futures:
        try:
            result = future.result(timeout=CHECK_SECONDS)
        except concurrent.futures.TimeoutError:
            result = CheckResult(
                name,
                False,
                f"no answer within {CHECK_SECONDS:g} s",
                "check that the service is up and reachable from here",
            )
        except Exception as exc:  # a check must report, never crash the others
            result = CheckResult(name, False, f"check failed ({type(exc).__name__}: {exc})"[:300])
        failed = failed or result.ok is False
        echo(result.line())
    pool.shutdown(wait=False, cancel_futures=True)
    return 1 if failed else 0


def check_database(settings: Settings) -> CheckResult:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import make_url

    from integrations.store.db import alembic_config, create_db_engine

    where = make_url(settings.database_url).render_as_string(hide_password=True)
    engine = create_db_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except Exception as exc:
        return CheckResult(
            "Database",
            False,
            f"cannot connect to {where} ({type(exc).__name__})",
            "check DATABASE_URL and that the server is up",
        )
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


def check_redis(settings: Settings) -> CheckResult:
    from redis import Redis
    from redis.exceptions import RedisError

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
    from integrations.salesforce import build_account_directory

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
    from urllib.parse import urlsplit

    parts = urlsplit(settings.redis_url)
    return f"{parts.hostname}:{parts.port or 6379}{parts.path or ''}"
