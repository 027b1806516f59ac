"""`triage doctor`: check the configuration by really reaching each service.

One line per service, ✓ or ✗ (or ! for something that works but deserves a look) with the fix.
Every client has its own timeout (a few seconds), and every check runs in a daemon thread under
one shared deadline of `CHECK_SECONDS`: a service that hangs past its client's timeout is
reported and abandoned, and an abandoned thread cannot keep the process alive, so the whole run
finishes within a minute even when every service hangs. The exit code is non-zero when a
required check fails. Doctor creates no files. The database, Redis and the CRM are checked in
`app/doctor_services.py`; Slack, the channels and OpenAI in `app/doctor_apis.py`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import structlog

from app.doctor_apis import (
    check_auto_send,
    check_escalation_channel,
    check_incident_channel,
    check_openai,
    check_slack,
    check_triage_channel,
    check_triage_routes,
)
from app.doctor_services import (
    CheckResult,
    check_crm,
    check_database,
    check_offline_meaning,
    check_redis,
)
from integrations.settings import Settings

log = structlog.get_logger(__name__)

CHECK_SECONDS = 20.0  # the deadline of all the checks together


def run_doctor(settings: Settings, echo: Callable[[str], None]) -> int:
    """Run every check, print one line each; 0 when no required check failed.

    The libraries' own log lines (slack_sdk's errors, retries) are silenced meanwhile: the
    report is doctor's lines only. They stay silenced if a check is still hanging when the
    report is done, so that an abandoned thread cannot add to it before the process exits.
    """
    checks: list[tuple[str, Callable[[Settings], CheckResult]]] = [
        ("Slack", check_slack),
        ("TRIAGE_CHANNEL", check_triage_channel),
        *([("TRIAGE_ROUTES", check_triage_routes)] if settings.triage_routes else []),
        ("ESCALATION_CHANNEL", check_escalation_channel),
        *([("INCIDENT_CHANNEL", check_incident_channel)] if settings.incidents else []),
        *([("AUTO_SEND", check_auto_send)] if settings.auto_send else []),
        ("Database", check_database),
        ("Redis", check_redis),
        ("CRM", check_crm),
        ("OpenAI", check_openai),
        ("Offline meaning", check_offline_meaning),
    ]
    silenced = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    failed, all_done = False, True
    for result, done in _run_checks(settings, checks, CHECK_SECONDS):
        failed = failed or result.ok is False
        all_done = all_done and done
        echo(result.line())
    if all_done:
        logging.disable(silenced)
    return 1 if failed else 0


def _run_checks(
    settings: Settings,
    checks: list[tuple[str, Callable[[Settings], CheckResult]]],
    seconds: float,
) -> Iterator[tuple[CheckResult, bool]]:
    """Each check's result in order, and whether it finished, all within `seconds` from now.

    Daemon threads, not a pool: a pool's threads are joined when the interpreter exits, so
    one check stuck in a connect would hold the process long after the report.
    """
    results: list[CheckResult | None] = [None] * len(checks)
    finished = [threading.Event() for _ in checks]

    def run(index: int, name: str, check: Callable[[Settings], CheckResult]) -> None:
        try:
            results[index] = check(settings)
        except Exception as exc:  # a check must report, never crash the others
            log.debug("doctor.check_failed", check=name, exc_info=True)
            detail = f"check failed ({type(exc).__name__}: {exc})"[:300]
            results[index] = CheckResult(name, False, detail)
        finally:
            finished[index].set()

    deadline = time.monotonic() + seconds
    for index, (name, check) in enumerate(checks):
        threading.Thread(
            target=run, args=(index, name, check), name=f"doctor-{name}", daemon=True
        ).start()
    for index, (name, _) in enumerate(checks):
        done = finished[index].wait(max(0.0, deadline - time.monotonic()))
        result = results[index]
        if not done or result is None:
            result = CheckResult(
                name,
                False,
                f"no answer within {seconds:g} s",
                "check that the service is up and reachable from here",
            )
        yield result, done
