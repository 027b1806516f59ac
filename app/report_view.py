"""`triage report`: the report as a rich table, and a chart (matplotlib) by day."""

from __future__ import annotations

import logging
from pathlib import Path

from rich.console import Console
from rich.table import Table

from workers.report import Report, Stats, minutes_text


def print_report(report: Report, console: Console) -> None:
    """One row per account, then the team; empty cells mean "nothing to measure yet"."""
    table = Table(title=f"Support since {report.since:%Y-%m-%d %H:%M} UTC", title_justify="left")
    table.add_column("account", overflow="fold", min_width=12, max_width=24)
    headers = ["asked", "median\nreply", "SLA\nmet", "sent\nas is", "edited", "rejected"]
    for column in [*headers, "👍", "👎"]:
        table.add_column(column, justify="right")
    table.caption = "median reply: from the customer's message to the first answer"
    for name, stats in report.accounts.items():
        table.add_row(name, *_cells(stats))
    table.add_section()
    table.add_row("[bold]team[/]", *_cells(report.team))
    console.print(table)
    if not report.team.requests:
        console.print("No requests in this period.")


def _cells(stats: Stats) -> list[str]:
    median = stats.median_first_response
    compliance = stats.sla_compliance
    return [
        str(stats.requests),
        "" if median is None else minutes_text(median),
        "" if compliance is None else f"{compliance:.0%}",
        str(stats.approved_unchanged),
        str(stats.approved_edited),
        str(stats.rejected),
        str(stats.thumbs_up),
        str(stats.thumbs_down),
    ]


def write_chart(report: Report, path: Path) -> Path:
    """Median first-response time (bars) and SLA compliance (line) by day, as a PNG.

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
    left.set_title("First response and SLA compliance by day")
    right = left.twinx()
    points = [
        (label, 100 * c) for label, c in zip(labels, compliance, strict=True) if c is not None
    ]
    if points:
        right.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            color="#2e7d32",
            marker="o",
            label="SLA met (%)",
        )
    right.set_ylim(0, 105)
    right.set_ylabel("SLA met (%)")
    handles = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    names = left.get_legend_handles_labels()[1] + right.get_legend_handles_labels()[1]
    left.legend(
        handles, names, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False
    )
    if not days:
        left.text(0.5, 0.5, "no requests in this period", ha="center", transform=left.transAxes)
    figure.autofmt_xdate()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
