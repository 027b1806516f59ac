"""Fill a PostgreSQL database with two years of realistic history, fast (COPY).

200 accounts, about 1,000,000 customer messages in 800,000 requests (one in five has a second
or third message; one in thirty is a follow-up in an earlier answered thread), 100,000
approved and posted answers (👍 on one in five, 👎 on one in thirty), 50,000 expertise evidence
rows (approvals, colleagues' replies, threads learned by backfill), a hundred requests still
open. Questions come from the synthetic org's specialities (`sandbox/expertise_topics.py`),
with the long tail real messages have (project names, error codes, ticket numbers drawn from
20,000 made-up words, Zipf-distributed) and one in twenty from the labelled multilingual
messages of `tests/data/` (Chinese and Japanese among them).

Account 0's tenant is `channel:C0GLOBEX`, the sandbox world's shared channel, so that the
pipeline `bench/history.py` runs grounds on an ordinary account's ~500 answers; its first
request (id 1, two years old) has the first approved answer, about `FIRST_QUESTION`.

The database is created if missing, migrated to 0008 (before the search index), filled, then
migrated to head: revision 0009 builds the index from the rows (its backfill; timed).

    python bench/seed_history.py [--url postgresql://postgres@127.0.0.1:5432/triage_history]
                                 [--scale 1.0] [--seed 3]
"""

from __future__ import annotations

import argparse
import json
import random
import string
import sys
import time
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

import psycopg

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `sandbox` is not an installed package
    sys.path.insert(0, str(REPO))

from integrations.store.db import upgrade  # noqa: E402
from sandbox.expertise_topics import SPECIALITIES  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/triage_history"
ORG, SHARED = "T0ACME", "C0GLOBEX"
ACCOUNTS, MESSAGES, ANSWERS, EVIDENCE, OPEN = 200, 1_000_000, 100_000, 50_000, 100
DAYS = 730
FIRST_QUESTION = "Our pelican gateway rejects the zebra webhook signature after the aardvark move"
FIRST_ANSWER = "FIRST ANSWER: re-sign the pelican gateway's zebra webhooks with the aardvark key."
SUPPORT = [f"U0SUP{k:02d}" for k in range(30)]  # generalists, besides the specialists
COLLEAGUES = sorted(
    {*SUPPORT, *(s.expert for s in SPECIALITIES.values())}
    | {s.backup for s in SPECIALITIES.values()}
)


class History:
    """The rows of every table, generated in time order with ids from 1."""

    def __init__(self, rng: random.Random, scale: float) -> None:
        self.rng = rng
        self.requests: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.drafts: list[dict[str, Any]] = []
        self.evidence: list[dict[str, Any]] = []
        self.threads: dict[int, list[str]] = {}  # account → its requests' ts, oldest first
        self.approvals: set[int] = set()
        self.replies = 0
        self.count = int(MESSAGES * scale / 1.25)  # requests
        self.answers, self.learned = int(ANSWERS * scale), int(EVIDENCE * scale)
        words = {_word(rng) for _ in range(30_000)} - {"pelican", "zebra", "aardvark"}
        self.tail = sorted(words)[:20_000]
        self.tail_weights = list(accumulate(1 / (rank + 1) for rank in range(len(self.tail))))
        labelled = [
            json.loads(line)
            for path in sorted((REPO / "tests" / "data").glob("triage_*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        self.foreign = [m["text"] for m in labelled if m["lang"] != "en" and m["needs_reply"]]

    def question(self) -> tuple[str, str]:
        """(speciality, text) of one customer message."""
        rng = self.rng
        key = rng.choice(sorted(SPECIALITIES))
        if rng.random() < 0.05:
            return key, rng.choice(self.foreign)
        speciality = SPECIALITIES[key]
        text = rng.choice(speciality.questions).format(
            **{slot: rng.choice(values) for slot, values in speciality.fills.items()}
        )
        tail = rng.choices(self.tail, cum_weights=self.tail_weights, k=rng.randint(1, 4))
        extra = rng.choice(
            [
                f" We see it in the {tail[0]} workspace.",
                f" Ticket {tail[0].upper()}-{rng.randint(100, 99999)}.",
                f" Error {rng.randint(400, 599)} on {' '.join(tail)}.",
                f" It started after the {' and '.join(tail)} rollout.",
                "",
            ]
        )
        return key, text + extra

    def reply(self, key: str) -> str:
        speciality = SPECIALITIES[key]
        tail = self.rng.choices(self.tail, cum_weights=self.tail_weights, k=2)
        return f"{self.rng.choice(speciality.answers)} (checked on {tail[0]} and {tail[1]})"

    def answerer(self, key: str) -> str:
        draw, speciality = self.rng.random(), SPECIALITIES[key]
        if draw < 0.8:
            return speciality.expert
        return speciality.backup if draw < 0.9 else self.rng.choice(SUPPORT)

    def generate(self) -> None:
        rng, start = self.rng, datetime.now(UTC) - timedelta(days=DAYS)
        step = DAYS * 86400 / self.count
        approved = set(rng.sample(range(2, self.count + 1), self.answers - 1)) | {1}
        self.approvals = set(rng.sample(sorted(approved), self.learned * 3 // 5))
        self.replies = self.learned - len(self.approvals) - self.learned // 10
        for request_id in range(1, self.count + 1):
            at = start + timedelta(seconds=(request_id - 1) * step)
            self._request(request_id, at, request_id in approved)
        while len(self.evidence) < self.learned:  # threads read by `triage backfill`
            key, text = self.question()
            at = start + timedelta(seconds=rng.uniform(0, DAYS * 86400))
            channel = f"C0H{rng.randrange(1, ACCOUNTS):05d}"
            self._evidence(
                source_key=f"thread:{channel}:{at.timestamp():.6f}",
                user_id=self.answerer(key),
                kind="history",
                channel_id=channel,
                question=text,
                answer=self.reply(key),
                answered_at=at,
            )

    def _request(self, request_id: int, at: datetime, approved: bool) -> None:
        rng = self.rng
        account = 0 if request_id == 1 else rng.randrange(ACCOUNTS)
        channel = SHARED if account == 0 else f"C0H{account:05d}"
        key, text = ("sso", FIRST_QUESTION) if request_id == 1 else self.question()
        texts = [text] + [self.question()[1] for _ in range(_more(rng))]
        ts = f"{at.timestamp():.6f}"
        earlier = self.threads.setdefault(account, [])
        thread_ts = rng.choice(earlier[-50:]) if earlier and rng.random() < 1 / 30 else ts
        earlier.append(ts)
        customer = f"U0C{account:05d}{rng.randrange(4)}"
        is_open = request_id > self.count - OPEN
        by = self.answerer(key)
        state = "open" if is_open else ("answered" if rng.random() < 0.8 else "closed")
        state = "answered" if approved else state
        answered_at = at + timedelta(minutes=rng.randint(5, 240))
        people = [{"user_id": by, "reason": ""}]
        self.requests.append(
            {
                "id": request_id,
                "team_id": ORG,
                "channel_id": channel,
                "ts": ts,
                "thread_ts": thread_ts,
                "user_id": customer,
                "user_team": f"T0C{account:05d}",
                "account_key": f"channel:{SHARED}"
                if account == 0
                else f"account:001H{account:05d}",
                "state": state,
                "suggestions": json.dumps({"status": "ok", "people": people}) if is_open else None,
                "created_at": at,
                "answered_at": answered_at if state == "answered" else None,
                "answered_by": by if state == "answered" else None,
            }
        )
        for n, words in enumerate(texts):
            sent = at + timedelta(seconds=7 * n)
            self.messages.append(
                {
                    "id": len(self.messages) + 1,
                    "request_id": request_id,
                    "channel_id": channel,
                    "ts": f"{sent.timestamp():.6f}",
                    "user_id": customer,
                    "text": words,
                    "created_at": sent,
                }
            )
        question = "\n".join(texts)
        if approved:
            self._answer(request_id, key, channel, question, by, answered_at)
        elif state == "answered" and self.replies > 0 and rng.random() < 0.03:
            self.replies -= 1
            self._evidence(
                source_key=f"request:{request_id}",
                user_id=by,
                kind="reply",
                channel_id=channel,
                request_id=request_id,
                question=question,
                answer=self.reply(key),
                answered_at=answered_at,
            )

    def _answer(
        self, request_id: int, key: str, channel: str, question: str, by: str, at: datetime
    ) -> None:
        """An approved, posted answer (the draft's id is the request's), and maybe evidence."""
        answer = FIRST_ANSWER if request_id == 1 else self.reply(key)
        feedback = {"up": int(self.rng.random() < 0.2), "down": int(self.rng.random() < 1 / 30)}
        if request_id == 1:  # the first answer must stay an example: no 👎 on it
            feedback = {"up": 0, "down": 0}
        self.drafts.append(
            {
                "id": request_id,
                "request_id": request_id,
                "text": answer,
                "details": json.dumps({"feedback": feedback}),
                "decided_by": by,
                "decided_at": at,
                "posted_text": answer,
                "posted_ts": f"{at.timestamp():.6f}",
                "created_at": at,
            }
        )
        if request_id in self.approvals:
            self._evidence(
                source_key=f"request:{request_id}",
                user_id=by,
                kind="approval",
                channel_id=channel,
                request_id=request_id,
                draft_id=request_id,
                question=question,
                answer=answer,
                answered_at=at,
            )

    def _evidence(self, **row: Any) -> None:
        up, down = int(self.rng.random() < 0.3), int(self.rng.random() < 0.03)
        self.evidence.append({"id": len(self.evidence) + 1, "up": up, "down": down, **row})


def _word(rng: random.Random) -> str:
    syllables = (
        rng.choice("bcdfgklmnprstvz") + rng.choice("aeiou") for _ in range(rng.randint(2, 4))
    )
    return "".join(syllables) + rng.choice(["", "", "x", "n", string.digits[rng.randrange(10)]])


def _more(rng: random.Random) -> int:
    draw = rng.random()
    return 0 if draw < 0.8 else (1 if draw < 0.95 else 2)


def _columns(names: str, **defaults: Any) -> dict[str, Any]:
    """A table's columns to COPY (the generated row's), then those with one value for all."""
    return {**dict.fromkeys(names.split()), **defaults}


COLUMNS = {
    "requests": _columns(
        "id team_id channel_id ts thread_ts user_id user_team account_key state suggestions"
        " created_at answered_at answered_by",
        stage="done",
        revision=1,
        processed_revision=1,
        attempts=0,
        escalations=0,
        escalations_done=0,
    ),
    "request_messages": _columns("id request_id channel_id ts user_id text created_at"),
    "drafts": _columns(
        "id request_id text details decided_by decided_at posted_text posted_ts created_at",
        source="offline",
        note="",
        status="approved",
    ),
    "expertise_evidence": _columns(
        "id source_key user_id kind question answer answered_at up down channel_id request_id"
        " draft_id",
        share=1.0,
        answered=True,
        reopened=False,
    ),
}
ALSO = {  # columns copied from another of the row's
    "requests": {"updated_at": "created_at", "last_message_at": "created_at"},
    "expertise_evidence": {"created_at": "answered_at"},
}


def copy_rows(connection: psycopg.Connection[Any], table: str, rows: list[dict[str, Any]]) -> None:
    """COPY the rows into `table`, then move its id sequence past them."""
    defaults, also = COLUMNS[table], ALSO.get(table, {})
    columns = ", ".join([*defaults, *also])
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                values = [row.get(name, default) for name, default in defaults.items()]
                copy.write_row(values + [row[source] for source in also.values()])
        sequence = f"pg_get_serial_sequence('{table}', 'id')"
        cursor.execute(f"SELECT setval({sequence}, (SELECT max(id) FROM {table}))")


def create_database(url: str) -> None:
    """Create the database of `url` (dropping one of that name)."""
    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def seed(url: str, scale: float = 1.0, seed: int = 3) -> dict[str, float]:
    """Create, fill and index the database; returns counts and seconds."""
    started = time.monotonic()
    create_database(url)
    upgrade(url, "0008")
    history = History(random.Random(seed), scale)
    history.generate()
    generated = time.monotonic()
    with psycopg.connect(url) as connection:
        for table, rows in [
            ("requests", history.requests),
            ("request_messages", history.messages),
            ("drafts", history.drafts),
            ("expertise_evidence", history.evidence),
        ]:
            copy_rows(connection, table, rows)
        connection.execute("ANALYZE")
    copied = time.monotonic()
    upgrade(url)  # 0009: the search index, built from the rows
    indexed = time.monotonic()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    return {
        "requests": len(history.requests),
        "messages": len(history.messages),
        "answers": len(history.drafts),
        "evidence": len(history.evidence),
        "generate_seconds": generated - started,
        "copy_seconds": copied - generated,
        "index_seconds": indexed - copied,
        "total_seconds": time.monotonic() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL, help="the database to (re)create")
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: a million messages")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    result = seed(args.url, args.scale, args.seed)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
