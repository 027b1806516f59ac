"""`triage report`: the report as rich tables (per account, with CSAT; then the period's
incidents), and a chart (matplotlib) by day."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from workers.incident_report import IncidentRow, IncidentStats
from workers.report import Report, Stats, minutes_text


def print_report(report: Report, console: Console) -> None:
    """One row per account, then the team; empty cells mean "nothing to measure yet"."""
    table = Table(title=f"Support since {report.since:%Y-%m-%d %H:%M} UTC", title_justify="left")
    table.add_column("account", overflow="fold", min_width=12, max_width=24)
    headers = ["asked", "median\nreply", "SLA\nmet", "sent\nas is", "edited", "rejected"]
    automatic = bool(report.team.auto_sent or report.team.handed_back)  # AUTO_SEND was on
    for column in [*headers, *(["auto\n(back)"] if automatic else []), "👍", "👎", "CSAT"]:
        table.add_column(column, justify="right")
    table.caption = (
        "median reply: from the customer's message to the first answer; CSAT: the share of 👍 "
        "in customers' answers to 'How did we do?', and how many answered"
    )
    if automatic:
        table.caption += (
            "; auto: answers sent without approval (AUTO_SEND), (back): handed to a person"
        )
    for name, stats in report.accounts.items():
        table.add_row(name, *_cells(stats, automatic))
    table.add_section()
    table.add_row("[bold]team[/]", *_cells(report.team, automatic))
    console.print(table)
    if not report.team.requests:
        console.print("No requests in this period.")
    print_incidents(report.incidents, console)


def print_incidents(stats: IncidentStats, console: Console) -> None:
    """One row per incident, then what they add up to; says so when there were none."""
    if not stats.rows:
        console.print("No incidents in this period.")
        return
    table = Table(title="Incidents", title_justify="left")
    table.add_column("incident", overflow="fold", min_width=12, max_width=30)
    table.add_column("first report")
    for column in ["accounts", "reports", "answered\nby update", "first\nupdate"]:
        table.add_column(column, justify="right")
    table.add_column("state")
    table.caption = "first update: from the first report to the first update a person approved"
    for row in stats.rows:
        waited = minutes_text(row.waited_minutes)
        table.add_row(
            escape(f"#{row.number} {row.title}"),  # the customers' words: no markup
            f"{row.first_report_at:%Y-%m-%d %H:%M}",
            str(row.accounts),
            str(row.reports),
            str(row.answered),
            waited if row.first_update_minutes is not None else f"none yet ({waited})",
            "resolved" if row.resolved else "open",
        )
    console.print(table)
    console.print(incidents_summary(stats))


def incidents_summary(stats: IncidentStats) -> str:
    """The period's incidents in two sentences: what they absorbed, how fast the first update
    came (median and worst), and which have had none."""
    n = stats.incidents
    text = (
        f"{n} incident{'s' if n != 1 else ''} absorbed {stats.absorbed} "
        f"report{'s' if stats.absorbed != 1 else ''}; {stats.answered} answered by an "
        "incident update instead of one by one."
    )
    median, worst = stats.median_first_update, stats.worst_first_update
    if median is not None and worst is not None:
        text += (
            f" First update after the first report: median {minutes_text(median)}, "
            f"worst {minutes_text(worst)}."
        )
    waiting = stats.without_update
    if waiting:
        longest = minutes_text(max(row.waited_minutes for row in waiting))
        text += f" {len(waiting)} without any update yet" + (
            f" (waiting up to {longest})." if len(waiting) > 1 else f" (waiting {longest})."
        )
    return text


def _cells(stats: Stats, automatic: bool = False) -> list[str]:
    median = stats.median_first_response
    compliance = stats.sla_compliance
    return [
        str(stats.requests),
        "" if median is None else minutes_text(median),
        "" if compliance is None else f"{compliance:.0%}",
        str(stats.approved_unchanged),
        str(stats.approved_edited),
        str(stats.rejected),
        *([f"{stats.auto_sent} ({stats.handed_back})"] if automatic else []),
        str(stats.thumbs_up),
        str(stats.thumbs_down),
        csat_text(stats),
    ]


def csat_text(stats: Stats) -> str:
    """`80% of 5`: the share of 👍 among the customers' answers, and how many; empty when
    nobody answered."""
    score = stats.csat_score
    return "" if score is None else f"{score:.0%} of {stats.csat_good + stats.csat_bad}"


def write_chart(report: Report, path: Path) -> Path:
    """Median first-response time (bars), SLA compliance and CSAT (lines) by day, as a PNG;
    each incident a dashed line on the day of its first report.

    Returns where it went: into a folder `path` names, and with `.png` added when `path` has
    no suffix (matplotlib would add it anyway, and the caller prints this path)."""
    if path.is_dir():
        path = path / "triage-report.png"
    elif not path.suffix:
        path = path.with_suffix(".png")

    # Lazy, both imports: matplotlib takes ~0.35 s and only `triage report --png` draws a chart;
    # pyplot must come after use("Agg").
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    import matplotlib.pyplot as plt

    days = list(report.days)
    medians = [report.days[d].median_first_response or 0 for d in days]
    compliance = [report.days[d].sla_compliance for d in days]
    figure, left = plt.subplots(figsize=(10, 4.5), dpi=120)
    labels = [d.strftime("%b %d") for d in days]
    left.bar(labels, medians, color="#4a90d9", label="median first response (min)")
    left.set_ylabel("median first response (minutes)")
    left.set_title("First response, SLA compliance and CSAT by day")
    right = left.twinx()
    csat = [report.days[d].csat_score for d in days]
    for values, color, marker, name in (
        (compliance, "#2e7d32", "o", "SLA met (%)"),
        (csat, "#ef6c00", "s", "CSAT: customers' good answers (%)"),
    ):
        points = [(x, 100 * v) for x, v in zip(labels, values, strict=True) if v is not None]
        if points:
            right.plot(
                [p[0] for p in points],
                [p[1] for p in points],
                color=color,
                marker=marker,
                label=name,
            )
    marked = _mark_incidents(left, days, report.incidents.rows)
    if marked:  # room above the bars and the 100% line for the incidents' labels
        left.set_ylim(0, max(medians, default=0) * 1.3 or 1)
    right.set_ylim(0, 130 if marked else 105)
    right.set_yticks(range(0, 101, 20))
    right.set_ylabel("SLA met, CSAT (%)")
    handles = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    names = left.get_legend_handles_labels()[1] + right.get_legend_handles_labels()[1]
    left.legend(
        handles, names, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False
    )
    if not days:
        left.text(0.5, 0.5, "no requests in this period", ha="center", transform=left.transAxes)
    figure.autofmt_xdate()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path


def _mark_incidents(axes: Any, days: list[date], rows: list[IncidentRow]) -> int:
    """A dashed line on each day an incident began, labelled with its number, its reports and
    how long its first update took; returns how many days it marked."""
    by_day: dict[date, list[IncidentRow]] = defaultdict(list)
    for row in rows:
        by_day[row.first_report_at.astimezone(UTC).date()].append(row)
    marked = sorted((d, r) for d, r in by_day.items() if d in days)
    for n, (day, found) in enumerate(marked):
        x = days.index(day)
        axes.axvline(
            x, color="#d32f2f", linestyle="--", linewidth=1, label="incident" if n == 0 else None
        )
        label = "\n".join(
            f"incident #{row.number}: {row.reports} reports, "
            + (
                f"update in {minutes_text(row.first_update_minutes)}"
                if row.first_update_minutes is not None
                else "no update yet"
            )
            for row in found
        )
        axes.text(
            x,
            0.97,
            label,
            transform=axes.get_xaxis_transform(),
            ha="center",
            va="top",
            fontsize=8,
            color="#d32f2f",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85},
        )
    return len(marked)
