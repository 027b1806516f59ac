"""`triage gaps`: the knowledge gaps as a rich table, largest first, and where their proposed
articles went."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from workers.gap_articles import Written
from workers.gaps import Gap, Gaps


def print_gaps(
    gaps: Gaps, written: list[Written], out: Path, console: Console, *, retention_days: int
) -> None:
    """The gaps with their counts, reasons and example requests; the requests alone; the
    articles written; and what retention left out."""
    grouped = sum(len(g.requests) for g in gaps.gaps)
    console.print(
        f"Knowledge gaps since {gaps.since:%Y-%m-%d %H:%M} UTC: {gaps.considered} requests had "
        f"a draft; {grouped + len(gaps.alone)} were not answered well by what we know, "
        f"{grouped} of them in {len(gaps.gaps)} gap{'s' if len(gaps.gaps) != 1 else ''}."
    )
    if gaps.gaps:
        table = Table(title_justify="left", show_lines=True)
        table.add_column("#", justify="right")
        table.add_column("gap", overflow="fold", max_width=36)
        table.add_column("requests", justify="right")
        table.add_column("why", overflow="fold", max_width=44)
        table.add_column("for example", overflow="fold")
        for rank, gap in enumerate(gaps.gaps, 1):
            table.add_row(
                str(rank),
                escape(gap.title),  # the customers' words: no markup
                str(len(gap.requests)),
                why(gap),
                "\n".join(f"#{r.request_id} {escape(_clip(r.question))}" for r in gap.examples),
            )
        console.print(table)
    if gaps.alone:
        ids = ", ".join(f"#{r.request_id}" for r in gaps.alone[:10])
        more = f" and {len(gaps.alone) - 10} more" if len(gaps.alone) > 10 else ""
        console.print(f"{len(gaps.alone)} more asked what no other did: {ids}{more}.")
    if written:
        console.print(
            f"Proposed articles in {out} (a person reviews them; nothing was added to "
            "KNOWLEDGE_DIR):"
        )
        for item in written:
            console.print(f"  {item.path.name}  ({item.by})", markup=False)
    purged = (
        f"{gaps.purged} of this period's requests could not be grouped: retention purged "
        "their words"
        if gaps.purged
        else "No request of this period had its words purged"
    )
    console.print(
        f"{purged}. Only requests whose words are still stored are grouped: retention purges "
        f"them after RETENTION_DAYS ({retention_days} days here)."
    )


def why(gap: Gap) -> str:
    """How many of the gap's requests were ungrounded, rejected, heavily edited."""
    counts = Counter(w.split(" ")[0] for r in gap.requests for w in r.why)
    words = {"no": "no grounding", "rejected": "rejected", "edited": "heavily edited"}
    return ", ".join(f"{n} {words.get(k, k)}" for k, n in counts.most_common())


def _clip(text: str, limit: int = 90) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rsplit(" ", 1)[0] + "…"
