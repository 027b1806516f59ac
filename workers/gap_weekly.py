"""The weekly knowledge-gaps post (SPEC §6.7): with `GAPS_WEEKLY=true`, once per ISO week, the
last seven days' top five gaps in `TRIAGE_CHANNEL`.

Once per week across every worker, because its outbox row's dedupe key is the ISO week
(`gaps-weekly:2026-W49`, unique in the database); a Redis lock only spares the other workers
the work of finding the gaps again within the hour. The post is an internal outbox kind, so
delivery posts it exactly once, and only in a channel no other organisation shares. It names
the gaps by their words and links the requests: the articles are `triage gaps`' to write.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from integrations.failures import DATABASE_DOWN, REDIS_DOWN, enqueued, unexpected
from integrations.store.db import transaction
from integrations.store.models import OutboxMessage
from workers.gaps import Gap, Gaps, find_gaps

if TYPE_CHECKING:
    from integrations.deps import Deps

log = structlog.get_logger(__name__)

KIND = "gaps_weekly"  # internal: delivery posts it only where no other organisation reads
TOP = 5
WINDOW = timedelta(days=7)
POST_AT = timedelta(hours=9)  # after Monday 09:00 UTC, the first look of the week posts it
LOCK_KEY = "triage:gaps-weekly:lock"
LOCK_SECONDS = 3600  # a worker looks at most once an hour whether the week's post is due


def dedupe_key(now: datetime) -> str:
    year, week, _ = now.astimezone(UTC).isocalendar()
    return f"gaps-weekly:{year}-W{week:02d}"


def is_due(now: datetime) -> bool:
    """Whether this week's post may go: from Monday `POST_AT` on (ISO weeks start Mondays)."""
    now = now.astimezone(UTC)
    monday = (now - timedelta(days=now.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return now >= monday + POST_AT


def post_weekly_gaps(deps: Deps, now: datetime | None = None) -> int | None:
    """Queue this week's summary unless it is queued already; its outbox id, or None when
    it is not due, not configured, or already there."""
    settings = deps.settings
    now = now or datetime.now(UTC)
    if not settings.gaps_weekly or not settings.triage_channel or not is_due(now):
        return None
    key = dedupe_key(now)
    try:
        with transaction(deps.sessions) as session:
            if session.scalars(
                select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)
            ).first():
                return None
            found = find_gaps(session, since=now - WINDOW, until=now)
            row = OutboxMessage(
                dedupe_key=key,
                kind=KIND,
                channel_id=settings.triage_channel,
                body={"text": summary(found, now)},
                enqueued_at=now,
            )
            session.add(row)
            session.flush()
            outbox_id = row.id
    except IntegrityError:  # another worker queued it a moment ago
        return None
    log.info("gaps.weekly_queued", outbox_id=outbox_id, gaps=len(found.gaps), week=key)
    if not enqueued(
        log, lambda: deps.queues.enqueue_delivery(outbox_id), what="delivery", outbox_id=outbox_id
    ):
        with transaction(deps.sessions) as session:  # the sweeper delivers it
            session.execute(
                update(OutboxMessage).where(OutboxMessage.id == outbox_id).values(enqueued_at=None)
            )
    return outbox_id


def summary(gaps: Gaps, now: datetime) -> str:
    """The post: the top gaps by size, each with its count, reasons and linked requests."""
    week = dedupe_key(now).split(":", 1)[1]
    total = sum(len(g.requests) for g in gaps.gaps) + len(gaps.alone)
    if not gaps.gaps:
        return (
            f"*Knowledge gaps, {week}*: none in the last seven days "
            f"({total} request{'s' if total != 1 else ''} not answered well, each alone in "
            "what it asked)."
        )
    lines = [
        f"*Knowledge gaps, {week}*: the last seven days' top {min(TOP, len(gaps.gaps))} "
        f"of {len(gaps.gaps)} ({total} requests our knowledge did not answer well)"
    ]
    for rank, gap in enumerate(gaps.gaps[:TOP], 1):
        count = f"{len(gap.requests)} requests ({_why(gap)})"
        lines.append(f"{rank}. *{_plain(gap.title)}*: {count}, {_links(gap)}")
    lines.append(
        "`triage gaps --since 7d` writes a proposed article for each, for a person to review."
    )
    return "\n".join(lines)


def _why(gap: Gap) -> str:
    counts: dict[str, int] = {}
    for request in gap.requests:
        for why in request.why:
            word = "heavily edited" if why.startswith("edited") else why
            counts[word] = counts.get(word, 0) + 1
    return ", ".join(f"{n} {w}" for w, n in sorted(counts.items(), key=lambda i: -i[1]))


def _links(gap: Gap) -> str:
    shown = [
        f"<{r.permalink}|#{r.request_id}>" if r.permalink else f"#{r.request_id}"
        for r in gap.examples
    ]
    more = len(gap.requests) - len(shown)
    return "e.g. " + ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _plain(text: str) -> str:
    """Customers' words in mrkdwn: no formatting, mentions or links of their own."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("*", "")


class WeeklyGaps:
    """The weekly post beside a worker (`workers.sweeper.Maintenance`): at most one look an
    hour across all workers, in a thread of its own so the lease heartbeat never waits."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.thread: threading.Thread | None = None

    def tick(self, now: datetime | None = None) -> bool:
        """Start a look if one is due; True when started."""
        now = now or datetime.now(UTC)
        settings = self.deps.settings
        if not settings.gaps_weekly or not settings.triage_channel or not is_due(now):
            return False
        if self.thread is not None and self.thread.is_alive():
            return False
        if not self.deps.redis.set(LOCK_KEY, str(time.time()), nx=True, ex=LOCK_SECONDS):
            return False
        self.thread = threading.Thread(
            target=self._run, args=(now,), name="triage-gaps-weekly", daemon=True
        )
        self.thread.start()
        return True

    def _run(self, now: datetime) -> None:
        try:
            post_weekly_gaps(self.deps, now)
        except (*DATABASE_DOWN, *REDIS_DOWN) as exc:  # the next hour tries again
            log.warning("gaps.weekly_failed", error=str(exc))
        except Exception:  # a bug: said with its traceback; the next hour tries again
            unexpected(log, "gaps.weekly_failed", where="gaps_weekly")
