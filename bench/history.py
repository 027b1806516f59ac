"""Does a request cost more when the history is long? Retrieval and suggestions, and the whole
pipeline, on an empty database and on one seeded with two years of history.

    python bench/seed_history.py            # once: ~1M messages, 100k answers, 50k evidence
    python bench/history.py [--seeded URL] [--requests 40] [--record]

Each measured request is a new customer question drawn like the seeded ones (another seed, so
its words are the history's words, common ones included). Per request, on each database:
- retrieval: `workers.retrieval.retrieve` for the sandbox world's channel, whose tenant is one
  ordinary account of the seeded history (~500 approved answers);
- suggest ranking: `workers.expertise.expertise_for` over all evidence, and `open_load`;
- pipeline: the real app over HTTP and the real pipeline job in this process (as
  `bench/one_message.py`), against the local Slack emulator, no model: from the customer's
  message to its posted card.
Times: wall (perf_counter), CPU of the thread doing the work (`time.thread_time`), and database
time (the sum of cursor executions, SQLAlchemy's before/after_cursor_execute). Medians and
90th percentiles after a warm-up. Then, on the seeded database, the answer approved first
(two years old, request 1) must still be found, by retrieval and on the pipeline's card.
The three databases are measured side by side, each question on each in turn (`run`).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from redis import Redis
from sqlalchemy import Engine, event

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.seed_history import COLLEAGUES, DEFAULT_URL, FIRST_ANSWER, History  # noqa: E402
from integrations.local_embeddings import LocalEmbedder  # noqa: E402
from integrations.store.db import transaction, upgrade  # noqa: E402
from sandbox.expertise_topics import GUS  # noqa: E402
from tests.harness import ORG, World, start_world  # noqa: E402
from workers.expertise import expertise_for  # noqa: E402
from workers.retrieval import Scope, retrieve  # noqa: E402
from workers.suggest import open_load  # noqa: E402

RESULTS = REPO / "bench" / "RESULTS.md"
SCOPE = Scope("channel:C0GLOBEX")  # the sandbox world's shared channel: account 0 of the seed
# Only the first answer shares two of these words (seed_history keeps them out of the rest).
FIRST_ASKED = "Pelican, zebra, aardvark: is that fixed now?"
WORLD = dict(grouping_minutes=0, slack_rate_scale=1000)  # each message its own request; and
# the app's Slack call budget far above the emulator's pace: Slack's limits are not measured
STAGES = ("retrieval", "suggest ranking", "pipeline (time to card)")


class Clock:
    """Wall, thread CPU and database time of one piece of work."""

    def __init__(self, engine: Engine) -> None:
        self.database = 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, *_: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn: Any, *_: Any) -> None:
        self.database += time.perf_counter() - conn.info.pop("bench_started", time.perf_counter())

    @contextmanager
    def measure(self, into: list[tuple[float, float, float]]) -> Iterator[None]:
        wall, cpu, database = time.perf_counter(), time.thread_time(), self.database
        yield
        into.append(
            (time.perf_counter() - wall, time.thread_time() - cpu, self.database - database)
        )


def questions(count: int, seed: int = 99) -> list[str]:
    """Customer questions drawn as the seeded history's were (another seed)."""
    history = History(random.Random(seed), 0.0001)
    return [history.question()[1] for _ in range(count)]


def run(
    urls: dict[str, str], redis_urls: list[str], asked: list[str], warm: int
) -> dict[str, dict[str, list[Any]]]:
    """Measure each stage for each question on every database (name -> url), the databases
    in turn for each question, the first of them changing from one question to the next: this
    machine's speed drifts by more than the differences measured (the same loop of Python ran
    0.33-0.60 s within a minute), and one database after the other let a slow minute fall on
    one of them alone. Each database has its world and its Redis database (`redis_urls`, in
    the same order)."""
    found: dict[str, dict[str, list[Any]]] = {name: {s: [] for s in STAGES} for name in urls}
    with ExitStack() as stack:
        worlds, clocks = {}, {}
        for (name, url), redis in zip(urls.items(), redis_urls, strict=True):
            Redis.from_url(redis).flushdb()
            world = stack.enter_context(start_world(database_url=url, redis_url=redis, **WORLD))
            for user in COLLEAGUES:  # the people the history names, as Slack knows them
                gone = user == GUS  # deactivated
                world.emu.add_user(user, team_id=ORG, name=user.lower(), tz="UTC", deleted=gone)
            worlds[name], clocks[name] = world, Clock(world.deps.engine)
        names = list(urls)
        for n, question in enumerate(asked):
            for name in names[n % len(names) :] + names[: n % len(names)]:
                into = {stage: [] if n < warm else found[name][stage] for stage in STAGES}
                _stages(worlds[name], clocks[name], question, into)
    return found


def _stages(world: World, clock: Clock, question: str, into: dict[str, list[Any]]) -> None:
    sessions, now = world.deps.sessions, datetime.now(UTC)
    with clock.measure(into["retrieval"]), transaction(sessions) as session:
        retrieve(session, SCOPE, question, exclude_request=0, knowledge_dir=None)
    with clock.measure(into["suggest ranking"]), transaction(sessions) as session:
        expertise_for(session, question, index=world.deps.expertise, half_life_days=180, now=now)
        open_load(session, exclude=0)
    cards = len(world.cards())
    LocalEmbedder.forget_recent()  # the databases before this one embedded the same question
    with clock.measure(into["pipeline (time to card)"]):
        world.customer_says(question)
        world.drain()
    if len(world.cards()) != cards + 1:  # triaged as needing no reply: not a card's time
        into["pipeline (time to card)"].pop()


def first_answer_found(url: str, redis_url: str) -> tuple[bool, bool]:
    """Whether retrieval ranks the first approved answer first, and whether the pipeline's
    card (the offline drafter reuses the closest approved answer) quotes it."""
    with start_world(database_url=url, redis_url=redis_url, **WORLD) as world:
        with transaction(world.deps.sessions) as session:
            examples = retrieve(
                session, SCOPE, FIRST_ASKED, exclude_request=0, knowledge_dir=None
            ).examples
        world.customer_says(FIRST_ASKED)
        world.drain()
        card = str(world.cards()[-1]["blocks"])
    return bool(examples) and examples[0].request_id == 1, FIRST_ANSWER[:40] in card


@contextmanager
def database(admin: str, template: str | None = None) -> Iterator[str]:
    """A database of its own for one run: a copy of `template` (so that a run leaves the
    seeded history as it was), or an empty one, migrated; dropped afterwards."""
    name = f"triage_history_run_{uuid.uuid4().hex[:8]}"
    like = f' TEMPLATE "{template.rsplit("/", 1)[1]}"' if template else ""
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"{like}')
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def summary(samples: list[tuple[float, float, float]]) -> list[float]:
    """Median and 90th percentile of wall, CPU and database milliseconds."""
    values = []
    for column in range(3):
        ms = sorted(sample[column] * 1000 for sample in samples)
        values += [statistics.median(ms), ms[int(0.9 * (len(ms) - 1))]]
    return values


def table(measured: dict[str, dict[str, list[Any]]]) -> list[str]:
    """One row per stage and database, then the full history's p50s over the others'."""
    lines = [
        "| stage | database | wall ms p50 / p90 | CPU ms p50 / p90 | database ms p50 / p90 |",
        "|---|---|---|---|---|",
    ]
    names = list(measured)
    for stage in STAGES:
        values = {name: summary(measured[name][stage]) for name in names}
        for name in names:
            v = values[name]
            lines.append(
                f"| {stage} | {name} | {v[0]:.1f} / {v[1]:.1f} | {v[2]:.1f} / {v[3]:.1f} "
                f"| {v[4]:.1f} / {v[5]:.1f} |"
            )
        full = values[names[-1]]
        for name in names[:-1]:
            base = values[name]
            ratios = [f"{full[i] / base[i]:.2f}×" if base[i] else "–" for i in (0, 2, 4)]
            lines.append(f"| {stage} | {names[-1]} ÷ {name} (p50) | {' | '.join(ratios)} |")
    return lines


def write_section(section: str, name: str = "history") -> None:
    """Replace this benchmark's section of RESULTS.md (appended when missing)."""
    text = RESULTS.read_text(encoding="utf-8")
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(text, encoding="utf-8")


def counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as connection:
        return {
            table: int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]
            for table in ("requests", "request_messages", "drafts", "expertise_evidence")
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeded", default=DEFAULT_URL, help="made by bench/seed_history.py")
    parser.add_argument("--small", default=f"{DEFAULT_URL}_small", help="the same at --scale 0.01")
    parser.add_argument("--admin", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument(
        "--redis",
        nargs=3,
        default=[f"redis://127.0.0.1:6379/{n}" for n in (5, 4, 3)],
        help="a Redis database for each of the empty, small and full databases' worlds",
    )
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--warm", type=int, default=5)
    parser.add_argument("--record", action="store_true", help="write to bench/RESULTS.md")
    args = parser.parse_args()
    asked = questions(args.requests + args.warm)
    sizes = {"small": counts(args.small), "full": counts(args.seeded)}
    with ExitStack() as stack:
        urls = {
            name: stack.enter_context(database(args.admin, template))
            for name, template in (("empty", None), ("small", args.small), ("full", args.seeded))
        }
        measured = run(urls, args.redis, asked, args.warm)
    Redis.from_url(args.redis[0]).flushdb()
    with database(args.admin, args.seeded) as url:
        by_retrieval, on_card = first_answer_found(url, args.redis[0])
    lines = table(measured)
    print("\n".join(lines))
    print(f"sizes: {sizes}")
    print(f"first approved answer: ranked first {by_retrieval}, on the card {on_card}")
    if args.record:
        write_section(section(args, sizes, lines, by_retrieval, on_card))
        print(f"recorded in {RESULTS.relative_to(REPO)}")


def section(
    args: argparse.Namespace,
    sizes: dict[str, dict[str, int]],
    lines: list[str],
    first: bool,
    card: bool,
) -> str:
    small, seeded = sizes["small"], sizes["full"]
    return "\n".join(
        [
            "<!-- history:start -->",
            "## History search: one request on an empty, a small and a two-year history",
            "",
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}",
            "- Commands: `python bench/seed_history.py`, `python bench/seed_history.py --scale "
            "0.01 --url postgresql://postgres@127.0.0.1:5432/triage_history_small`, then "
            f"`python bench/history.py --requests {args.requests} --record`",
            f"- full: {seeded['request_messages']:,} customer messages in "
            f"{seeded['requests']:,} requests of 200 accounts, {seeded['drafts']:,} approved "
            f"answers, {seeded['expertise_evidence']:,} evidence rows, over two years "
            "(PostgreSQL 15, this machine's 2 CPUs shared with the other benchmarks); small: "
            f"the same at 1% ({small['request_messages']:,} messages, {small['drafts']:,} "
            f"answers, {small['expertise_evidence']:,} evidence rows); empty: just migrated",
            f"- {args.requests} new customer questions (after {args.warm} to warm up), the same "
            "on the three databases (each a fresh copy), which take each question in turn; "
            "each stage timed per request",
            "",
            *lines,
            "",
            f"The answer approved first (two years old, among ~500 of its account): ranked "
            f"first by retrieval: {'yes' if first else '**no**'}; quoted on the pipeline's "
            f"card: {'yes' if card else '**no**'}.",
            "<!-- history:end -->",
        ]
    )


if __name__ == "__main__":
    main()
