"""What the outage morning produced, read from the emulators and the database afterwards.

Cards are the bot's top-level messages in the card channels of the Slack emulator, each
attributed to its request by the outbox id in its metadata (else by the request's recorded
card ts); a customer message's request is the one `request_messages` files it under. A card's
time is its ts (the emulator stamps a post with the wall clock); a message's time is when the
sender started its first POST. 👀 is each `reactions.add` of `eyes` not answered 429.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from bench.burst_send import Ack
from bench.burst_world import OutageWorld
from integrations.store.db import create_db_engine
from sandbox.slack_limits import POST_MESSAGE, POST_PER_CHANNEL, POST_PER_WORKSPACE
from sandbox.slack_limits import tier_of as slack_tier

# chat.postMessage: about one per second per channel (short bursts allowed) and a
# workspace-wide few hundred per minute: (per minute, burst), as the emulator enforces them.
POST_PER_CHANNEL_PER_S, POST_CHANNEL_BURST = POST_PER_CHANNEL[0] / 60, POST_PER_CHANNEL[1]
POST_WORKSPACE_PER_S, POST_WORKSPACE_BURST = POST_PER_WORKSPACE[0] / 60, POST_PER_WORKSPACE[1]


def tier_of(method: str) -> str:
    """Slack's rate-limit tier of a method, as sandbox.slack_limits has it from Slack's pages."""
    if method == POST_MESSAGE:
        return "postMessage (1/s per channel)"
    return f"Tier {slack_tier(method)}"


@dataclass
class Measured:
    """Everything the report prints; `problems` is what makes the run fail."""

    messages: int
    requests: int
    first_sent: float
    card_seconds: dict[int, float]  # serial -> its card's time after its first POST
    cards_of: dict[int, int]  # serial -> how many cards its request got
    card_times: list[float]  # every card's time after the first message
    cards_per_channel: Counter[str]
    stray_cards: int
    eyes_times: list[float]
    eyes_of: dict[int, int]
    tiers: dict[int, str]  # serial -> the account's tier
    slack_calls: Counter[str]
    status_429: int
    early_calls: int | None  # since the emulator's limits were set (the warm-up included)
    early_by_method: Counter[str]  # of them, those made while the burst was measured
    model_calls: Counter[str]
    model_peak_in_flight: int
    acks: list[Ack]
    # Each card channel's accepted chat.postMessage times (s after the first message), and
    # the model's answers' times: where the cards' pace was lost (`pace` in the report)
    posts: dict[str, list[float]] = field(default_factory=dict)
    answered: list[float] = field(default_factory=list)
    # A lone durable commit's milliseconds while the burst was sent (bench/burst_floor.py)
    floor: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def percentile(self, values: Iterable[float], q: float) -> float:
        ordered = sorted(values)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]

    def ack_ms(self, q: float) -> float:
        return self.percentile((a.ms for a in self.acks), q)


def measure(
    world: OutageWorld,
    acks: list[Ack],
    database_url: str,
    model_answers: list[tuple[float, str]],
    model_latency: float,
) -> Measured:
    """Read the run's outcome; see the module docstring for what counts as what."""
    first_post: dict[int, float] = {}
    for ack in sorted(acks, key=lambda a: a.sent):
        first_post.setdefault(ack.serial, ack.sent)
    first_sent = min(first_post.values())
    by_place = {(m.channel, m.ts): m.serial for m in world.messages}
    request_of, card_of_request, card_request = _requests(database_url, by_place)
    cards_of = dict.fromkeys(by_place.values(), 0)
    card_seconds: dict[int, float] = {}
    cards_per_channel: Counter[str] = Counter()
    card_times, stray = [], 0
    for channel in world.card_channels:
        for card in world.emu.messages(channel):
            if not card.get("bot_id"):
                continue
            outbox = ((card.get("metadata") or {}).get("event_payload") or {}).get("outbox_id")
            request = card_request.get(int(outbox or 0))
            request = request or card_of_request.get((channel, card["ts"]))
            if request is None:
                stray += 1
                continue
            cards_per_channel[channel] += 1
            card_times.append(float(card["ts"]) - first_sent)
            for serial in (s for s, r in request_of.items() if r == request):
                cards_of[serial] += 1
                seconds = float(card["ts"]) - first_post[serial]
                card_seconds[serial] = min(card_seconds.get(serial, seconds), seconds)
    calls = world.emu.calls()
    eyes_of = dict.fromkeys(by_place.values(), 0)
    eyes_times = []
    for call in calls:
        place = (call.args.get("channel"), call.args.get("timestamp"))
        eyes = call.method == "reactions.add" and call.args.get("name") == "eyes"
        if eyes and getattr(call, "status", 200) != 429 and place in by_place:
            eyes_of[by_place[place]] += 1
            eyes_times.append(call.at - first_sent)
    measured = Measured(
        messages=len(by_place),
        requests=len(set(request_of.values())),
        first_sent=first_sent,
        card_seconds=card_seconds,
        cards_of=cards_of,
        card_times=sorted(card_times),
        cards_per_channel=cards_per_channel,
        stray_cards=stray,
        eyes_times=sorted(eyes_times),
        eyes_of=eyes_of,
        tiers={m.serial: m.tier for m in world.messages},
        slack_calls=Counter(c.method for c in calls),
        status_429=sum(1 for c in calls if getattr(c, "status", 200) == 429),
        early_calls=_early_calls(world),
        early_by_method=Counter(c.method for c in calls if getattr(c, "early", False)),
        model_calls=Counter(schema for _, schema in model_answers),
        model_peak_in_flight=_peak_in_flight(model_answers, model_latency),
        acks=acks,
        posts={
            channel: sorted(
                c.at - first_sent
                for c in calls
                if c.method == "chat.postMessage"
                and c.args.get("channel") == channel
                and getattr(c, "status", 200) != 429
            )
            for channel in world.card_channels
        },
        answered=sorted(at - first_sent for at, _ in model_answers),
    )
    measured.problems = _problems(measured)
    return measured


def _requests(
    database_url: str, by_place: dict[tuple[str, str], int]
) -> tuple[dict[int, int], dict[tuple[str, str], int], dict[int, int]]:
    """serial -> request id; (card channel, card ts) -> request id; card outbox id -> request."""
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as db:
            rows = db.execute(
                text(
                    "SELECT m.channel_id, m.ts, r.id, r.card_channel, r.card_ts FROM "
                    "request_messages m JOIN requests r ON r.id = m.request_id"
                )
            ).all()
            outbox = db.execute(text("SELECT id, request_id FROM outbox WHERE kind = 'card'")).all()
    finally:
        engine.dispose()
    request_of = {by_place[(c, ts)]: r for c, ts, r, _, _ in rows if (c, ts) in by_place}
    card_of_request = {(cc, cts): r for _, _, r, cc, cts in rows if cts}
    return request_of, card_of_request, {o: r for o, r in outbox}


def _early_calls(world: OutageWorld) -> int | None:
    """Calls made before a Retry-After the emulator gave had ended (when it keeps count)."""
    early: Any = getattr(world.emu, "early_calls", None)
    if early is None:
        return None
    value = early() if callable(early) else early
    return len(value) if isinstance(value, list | tuple) else int(value)


def _peak_in_flight(answers: list[tuple[float, str]], latency: float) -> int:
    """Most model calls thinking at once (each answered `latency` after it arrived)."""
    edges = sorted([(t - latency, 1) for t, _ in answers] + [(t, -1) for t, _ in answers])
    peak = now = 0
    for _, step in edges:
        now += step
        peak = max(peak, now)
    return peak


def _problems(m: Measured) -> list[str]:
    problems = []
    lost = [s for s, n in m.cards_of.items() if n == 0]
    twice = [s for s, n in m.cards_of.items() if n > 1]
    if lost:
        problems.append(f"{len(lost)} message(s) got no card (refs {lost[:10]})")
    if twice:
        problems.append(f"{len(twice)} message(s) got more than one card (refs {twice[:10]})")
    if m.stray_cards:
        problems.append(f"{m.stray_cards} card(s) belong to no request")
    no_eyes = [s for s, n in m.eyes_of.items() if n == 0]
    eyes_twice = [s for s, n in m.eyes_of.items() if n > 1]
    if no_eyes:
        problems.append(f"{len(no_eyes)} message(s) got no 👀 (refs {no_eyes[:10]})")
    if eyes_twice:
        problems.append(  # Slack keeps one (already_reacted), but a Tier-3 call went twice
            f"👀 was added (reactions.add not answered 429) more than once to "
            f"{len(eyes_twice)} message(s) (refs {eyes_twice[:10]})"
        )
    failed = [a for a in m.acks if a.status != 200]
    if failed:
        problems.append(f"{len(failed)} POST(s) were not acknowledged with 200")
    return problems


def median(values: Iterable[float]) -> float:
    listed = list(values)
    return statistics.median(listed) if listed else float("nan")
