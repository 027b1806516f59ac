"""How well incidents group an outage morning (SPEC §6.6), on the real code and a real database.

A morning file (`bench/data/*.jsonl`: `minute`, `account`, `tier`, `text`, `lang`, `incident`
label or null) is replayed in arrival order: each message becomes a stored request of its
account (triaged by the offline classifier, as without a model), and `workers.incidents.
group_request` runs on it at its minute (`now=`), as the card stage would. Printed: pairwise
precision and recall of the grouping against the labels (two reports are "together" when they
are in one incident), each predicted incident's make-up, and the misgrouped reports.

`--e2e` then plays the first reports of the morning's largest incident through the whole app
(the Slack emulator, a worker process) and prints the seconds from the third account's
report to the incident card, and the Web API calls of answering every report once through the
incident versus one approval per report (`INCIDENTS=false`).

    python bench/incidents.py bench/data/incident_dev.jsonl [--postgres URL] [--redis URL]

`bench/data/incident_morning.jsonl` is held out: measured once, never tuned against.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `tests.harness` and `sandbox` are not installed packages
    sys.path.insert(0, str(REPO))

from sqlalchemy import select  # noqa: E402

from integrations.deps import Deps  # noqa: E402
from integrations.settings import load_settings  # noqa: E402
from integrations.store.db import transaction, upgrade  # noqa: E402
from integrations.store.incident_models import IncidentReport  # noqa: E402
from integrations.store.models import Request, RequestMessage  # noqa: E402
from workers.incidents import group_request  # noqa: E402
from workers.stage_data import Account, RequestContext, store_triage, stored  # noqa: E402
from workers.triage import classify_offline  # noqa: E402

START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    name = f"triage_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def replay(deps: Deps, rows: list[dict[str, Any]]) -> dict[int, int | None]:
    """Each row as a request, grouped at its minute; line number → predicted incident."""
    ids: dict[int, int] = {}
    for line, row in enumerate(rows, start=1):
        at = START + timedelta(minutes=float(row["minute"]))
        account = str(row["account"])
        channel = f"C{account.upper().replace('-', '')}"[:32]
        with transaction(deps.sessions) as session:
            request = Request(
                team_id="T0CUSTOMER",
                channel_id=channel,
                ts=f"{at.timestamp():.6f}",
                thread_ts=f"{at.timestamp():.6f}",
                user_id=f"U{line:05d}",
                account_key=f"account:{account}",
                created_at=at,
                last_message_at=at,
                context=stored(
                    RequestContext(
                        status="ok", account=Account(id=account, name=account, tier=row["tier"])
                    )
                ),
            )
            request.messages.append(
                RequestMessage(
                    channel_id=channel, ts=request.ts, user_id=request.user_id, text=row["text"]
                )
            )
            store_triage(request, classify_offline(row["text"]))
            session.add(request)
            session.flush()
            ids[line] = request.id
        group_request(deps, ids[line], now=at)
    with transaction(deps.sessions) as session:
        found = dict(
            session.execute(
                select(IncidentReport.request_id, IncidentReport.incident_id).where(
                    IncidentReport.split_at.is_(None)
                )
            ).all()
        )
    return {line: found.get(request_id) for line, request_id in ids.items()}


def score(rows: list[dict[str, Any]], predicted: dict[int, int | None]) -> dict[str, Any]:
    """Pairwise precision and recall: of the pairs put together, how many belong together;
    of the pairs that belong together, how many were put together."""
    truth = {line: row.get("incident") for line, row in enumerate(rows, start=1)}
    together = correct = should = 0
    for a, b in itertools.combinations(truth, 2):
        same_truth = truth[a] is not None and truth[a] == truth[b]
        same_pred = predicted[a] is not None and predicted[a] == predicted[b]
        together += same_pred
        should += same_truth
        correct += same_pred and same_truth
    precision = correct / together if together else 1.0
    recall = correct / should if should else 1.0
    return {"precision": precision, "recall": recall, "pairs": (correct, together, should)}


def report(rows: list[dict[str, Any]], predicted: dict[int, int | None]) -> None:
    result = score(rows, predicted)
    print(
        f"messages: {len(rows)}, labelled incidents: "
        f"{dict(Counter(r['incident'] for r in rows if r.get('incident')))}"
    )
    print(
        f"pairwise precision {result['precision']:.3f}, recall {result['recall']:.3f} "
        f"(correct {result['pairs'][0]}, put together {result['pairs'][1]}, "
        f"belong together {result['pairs'][2]})"
    )
    members: dict[int, list[int]] = defaultdict(list)
    for line, incident in predicted.items():
        if incident is not None:
            members[incident].append(line)
    for incident, lines in sorted(members.items()):
        labels = Counter(str(rows[line - 1].get("incident")) for line in lines)
        accounts = len({rows[line - 1]["account"] for line in lines})
        print(
            f"  incident #{incident}: {len(lines)} reports, {accounts} accounts, labels "
            f"{dict(labels)}"
        )
    print("misgrouped (line: label → predicted; text):")
    majority = {
        i: Counter(rows[x - 1].get("incident") for x in ls).most_common(1)[0][0]
        for i, ls in members.items()
    }
    for line, row in enumerate(rows, start=1):
        got = predicted[line]
        expected_label = row.get("incident")
        wrong = (got is None and expected_label is not None) or (
            got is not None and majority.get(got) != expected_label
        )
        if wrong:
            print(f"  {line}: {expected_label} → {got}; {row['text'][:110]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--window", type=float, default=None, help="INCIDENT_WINDOW_MINUTES")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    with scratch_database(args.postgres) as url:
        overrides: dict[str, Any] = {}
        if args.window is not None:
            overrides["incident_window_minutes"] = args.window
        settings = load_settings(
            _env_file=None,
            database_url=url,
            redis_url=args.redis,
            slack_bot_token="xoxb-bench",
            slack_signing_secret="bench",
            incident_channel="C0INCIDENTS",  # without one, nothing is grouped
            **overrides,
        )
        deps = Deps.build(settings)
        try:
            predicted = replay(deps, rows)
        finally:
            deps.close()
    print(
        f"# {args.data} (window {settings.incident_window_minutes} min, "
        f"similarity {settings.incident_similarity}, min accounts "
        f"{settings.incident_min_accounts})"
    )
    report(rows, predicted)


if __name__ == "__main__":
    main()
