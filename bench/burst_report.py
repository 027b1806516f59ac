"""bench/burst.py's report: the measurements, the two bounds the cards cannot beat, the targets.

Bounds (time from the first message to the last card):
- the model: model calls × latency ÷ MODEL_CONCURRENCY (calls in flight at once, deployment-wide);
- Slack: for each card channel, its cards beyond chat.postMessage's burst at one per second per
  channel (× SLACK_RATE_SCALE, the F of `--limits`, else 1: Slack's real rate, which the app
  keeps to whether or not the emulator enforces it), and all cards at the workspace-wide rate;
  the longest of these.
Targets (issue 16, on ≤ 2 worker processes): all cards within 1.25× the larger bound, the first
card within 3 s of the first message, peak RSS ≤ 250 MB per process, every ack under 100 ms,
nothing lost and nothing twice. Printed as Markdown, to paste into bench/RESULTS.md.
"""

from __future__ import annotations

import itertools
import os
import platform
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bench.burst_fleet import STOP_SECONDS
from bench.burst_measure import (
    POST_CHANNEL_BURST,
    POST_PER_CHANNEL_PER_S,
    POST_WORKSPACE_BURST,
    POST_WORKSPACE_PER_S,
    Measured,
    median,
    tier_of,
)

if TYPE_CHECKING:
    from bench.burst import Outcome

DEFAULT_MODEL_CONCURRENCY = 32  # MODEL_CONCURRENCY's default (integrations/settings.py)
WITHIN_BOUND, FIRST_CARD_S, RSS_MB, ACK_MS = 1.25, 3.0, 250.0, 100.0


def model_bound(m: Measured, latency: float, concurrency: int) -> float:
    return sum(m.model_calls.values()) * latency / concurrency


def slack_bound(cards_per_channel: Counter[str], scale: float) -> tuple[float, str]:
    """The least time Slack's posting limits allow for these cards, and which limit it is."""
    worst, why = 0.0, "no cards"
    for channel, cards in sorted(cards_per_channel.items()):
        seconds = max(0, cards - POST_CHANNEL_BURST) / (POST_PER_CHANNEL_PER_S * scale)
        if seconds >= worst:
            worst, why = seconds, f"{cards} cards in {channel} at {scale:g}/s"
    total = sum(cards_per_channel.values())
    workspace = max(0, total - POST_WORKSPACE_BURST) / (POST_WORKSPACE_PER_S * scale)
    if workspace > worst:
        worst, why = workspace, f"{total} cards at {POST_WORKSPACE_PER_S * scale * 60:g}/min"
    return worst, why


def pace(m: Measured) -> list[str]:
    """Where the cards' pace went, per card channel: the gaps between its accepted posts,
    and how far the model's answers ran ahead of them (cards ready and waiting their turn)."""
    lines = []
    for channel, times in sorted(m.posts.items()):
        gaps = [b - a for a, b in itertools.pairwise(times)]
        if not gaps:
            continue
        long_ = sorted(((b - a, a) for a, b in itertools.pairwise(times)), reverse=True)
        lines.append(
            f"Pace in {channel}: {len(times)} posts from {times[0]:.1f} to {times[-1]:.1f} s "
            f"({(len(times) - 1) / (times[-1] - times[0]):.2f} a second); gaps p50 "
            f"{median(gaps):.2f}, p90 {m.percentile(gaps, 90):.2f}, max {max(gaps):.2f} s; "
            f"{sum(1 for g in gaps if g > 2)} gaps over 2 s (longest at "
            + ", ".join(f"{at:.0f} s ({gap:.1f})" for gap, at in long_[:5])
            + ")"
        )
    if m.answered and m.card_times:
        for at in (30.0, 60.0, 120.0, 240.0):
            ready = sum(1 for t in m.answered if t <= at)
            posted = sum(1 for t in m.card_times if t <= at)
            lines.append(f"- at {at:.0f} s: {ready} model answers, {posted} cards posted")
    return [*lines, ""]


def report(outcome: Outcome, *, command: str) -> str:
    """The run as Markdown: setup, the table, Slack calls by method, memory, the verdicts."""
    o, m = outcome.options, outcome.measured
    scale = o.limits or 1.0
    concurrency = o.model_concurrency or DEFAULT_MODEL_CONCURRENCY
    bound_model = model_bound(m, o.model_latency, concurrency) if o.model else 0.0
    bound_slack, slack_why = slack_bound(m.cards_per_channel, scale)
    requests = max(1, m.requests)
    last_card = m.card_times[-1] if m.card_times else float("nan")
    first_card = m.card_times[0] if m.card_times else float("nan")
    seconds = list(m.card_seconds.values())
    by_tier = {
        tier: [s for serial, s in m.card_seconds.items() if m.tiers[serial] == tier]
        for tier in sorted(set(m.tiers.values()))
    }
    slow_acks = sum(1 for a in m.acks if a.ms >= ACK_MS)

    def floor(q: float) -> float:
        return m.percentile(m.floor, q)

    tiers: Counter[str] = Counter()
    for method, count in m.slack_calls.items():
        tiers[tier_of(method)] += count
    early = "" if m.early_calls is None else f"; calls before a Retry-After ended: {m.early_calls}"
    if m.early_calls:
        during = ", ".join(f"{method} {n}" for method, n in m.early_by_method.most_common())
        early += f" (during the burst: {during or 'none, so before it'})"
    limits = f"F={o.limits:g}" if o.limits is not None else "off"
    lines = [
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; command: `{command}`",
        f"- Machine: {os.cpu_count()} CPUs ({platform.machine()}), Python "
        f"{platform.python_version()}; load average before the end "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"- Setup: {o.serves} × `triage serve` ({o.web_workers} gunicorn workers), {o.workers} × "
        f"`triage worker`; emulator limits {limits}; model "
        + (f"{o.model_latency:g} s per call, MODEL_CONCURRENCY {concurrency}" if o.model else "off")
        + f"; routes {o.routes or '(TRIAGE_CHANNEL only)'}; {m.messages} messages over "
        f"{o.channels} channels from {o.threads} client threads"
        + (f", {sum(1 for a in m.acks if a.retry)} redelivered" if o.redeliver else ""),
        "",
        "| measure | value |",
        "|---|---|",
        f"| messages / requests / cards | {m.messages} / {m.requests} / {len(m.card_times)} |",
        "| cards per card channel | "
        + ", ".join(f"{c} {n}" for c, n in sorted(m.cards_per_channel.items()))
        + " |",
        f"| time to all cards | {last_card:.1f} s |",
        f"| first card after the first message | {first_card:.1f} s |",
        f"| time to card p50 / p95 | {median(seconds):.1f} / {m.percentile(seconds, 95):.1f} s |",
        *(
            f"| time to card p50 / p95, {tier} | {median(v):.1f} / {m.percentile(v, 95):.1f} s |"
            for tier, v in by_tier.items()
        ),
        f"| time to all 👀 | {(m.eyes_times or [float('nan')])[-1]:.1f} s |",
        f"| model calls per request | {sum(m.model_calls.values()) / requests:.2f} ("
        + ", ".join(f"{k or '?'} {v / requests:.2f}" for k, v in sorted(m.model_calls.items()))
        + f"); at most {m.model_peak_in_flight} in flight |",
        f"| Slack calls per request | {sum(m.slack_calls.values()) / requests:.2f} ("
        + ", ".join(f"{t} {n / requests:.2f}" for t, n in sorted(tiers.items()))
        + ") |",
        f"| 429s received | {m.status_429}{early} |",
        f"| ack p50 / p99 / max | {m.ack_ms(50):.1f} / {m.ack_ms(99):.1f} / "
        f"{m.ack_ms(100):.1f} ms; {slow_acks} of {len(m.acks)} ≥ {ACK_MS:g} ms |",
        f"| floor: a lone durable commit while the burst was sent, p50 / p99 / max | "
        f"{floor(50):.1f} / {floor(99):.1f} / {floor(100):.1f} ms ({len(m.floor)} commits) |",
        f"| bound: model calls × latency ÷ MODEL_CONCURRENCY | {sum(m.model_calls.values())} × "
        f"{o.model_latency:g} s ÷ {concurrency} = {bound_model:.1f} s |",
        f"| bound: Slack's posting limits | {bound_slack:.1f} s ({slack_why}) |",
        "| peak RSS (VmHWM) | "
        + "; ".join(f"{label} {mb:.0f} MB" for label, _, mb in outcome.rss)
        + " |",
        "",
        "Slack Web API calls during the burst, per request: "
        + ", ".join(
            f"`{method}` {count / requests:.2f} ({tier_of(method)})"
            for method, count in sorted(m.slack_calls.items())
        ),
        "",
    ]
    lines += pace(m)
    larger = max(bound_model, bound_slack)
    largest_rss = max((mb for _, _, mb in outcome.rss), default=0.0)
    targets = [
        (
            f"all cards within {WITHIN_BOUND}× the larger bound ({larger:.1f} s)",
            last_card <= WITHIN_BOUND * larger,
            f"{last_card:.1f} s",
        ),
        (
            f"first card within {FIRST_CARD_S:g} s of the first message",
            first_card <= FIRST_CARD_S,
            f"{first_card:.1f} s",
        ),
        (f"peak RSS ≤ {RSS_MB:g} MB per process", largest_rss <= RSS_MB, f"{largest_rss:.0f} MB"),
        (
            f"every ack under {ACK_MS:g} ms",
            slow_acks == 0,
            f"max {m.ack_ms(100):.1f} ms; a lone commit's max {floor(100):.1f} ms",
        ),
        ("nothing lost, nothing twice", not m.problems, "; ".join(m.problems) or "none"),
        ("on ≤ 2 worker processes", o.workers <= 2, f"{o.workers}"),
    ]
    for name, ok, value in targets:
        lines.append(f"- {name}: **{'met' if ok else 'NOT met'}** ({value})")
    if outcome.unstopped:
        lines.append(
            f"- Still running {STOP_SECONDS:g} s after SIGTERM (then killed): "
            + ", ".join(outcome.unstopped)
        )
    return "\n".join(lines)
