"""What `bench/triage_eval.py` records in bench/RESULTS.md: one Markdown section per data set,
between markers, with the accuracy tables and the confusion table."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
FIELDS = ("category", "needs_reply", "urgency")
# Column headers of the confusion table, short enough for an 80-column terminal.
SHORT = {
    "question": "ques",
    "bug": "bug",
    "incident": "inc",
    "feature_request": "feat",
    "billing": "bill",
    "account_access": "acct",
    "other": "oth",
    "no_action": "noact",
}


def markers(data: Path) -> tuple[str, str]:
    """The RESULTS.md section markers of one data set (one section per file)."""
    return f"<!-- triage-eval:{data.stem}:start -->", f"<!-- triage-eval:{data.stem}:end -->"


def pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


CLASSIFIERS = {
    "model": "`workers.triage.classify_offline` (the learned classifier shipped in the package)",
    "rules": "`workers.triage_rules.classify_by_rules` (the old keyword and pattern rules)",
}


def confusion_markdown(result: dict[str, Any]) -> list[str]:
    """The category confusion table as Markdown rows (expected down, predicted across)."""
    labels = list(result["by_category"])
    lines = [
        "| expected ↓ predicted → | " + " | ".join(SHORT.get(x, x) for x in labels) + " |",
        "|---|" + "---:|" * len(labels),
    ]
    for expected in labels:
        cells = result["confusion"].get(expected, {})
        if cells:
            row = [str(cells.get(p, ".")) for p in labels]
            lines.append(f"| {expected} | " + " | ".join(row) + " |")
    return lines


def record_section(
    result: dict[str, Any],
    data: Path,
    command: str,
    classifier: str = CLASSIFIERS["model"],
    title: str = "",
) -> str:
    """The Markdown section recorded in RESULTS.md, markers included."""
    total = result["total"]
    langs = Counter({lang: s["total"] for lang, s in result["by_lang"].items()})
    lang_list = ", ".join(f"{lang} {n}" for lang, n in langs.most_common())
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    start, end = markers(data)
    lines = [
        start,
        f"## {title or f'Triage: offline classifier accuracy on {data.stem}'}",
        "",
        f"- Date: {now}",
        f"- Command: `{command}`",
        f"- Data: `{display(data)}`, {total} labelled messages ({lang_list})",
        f"- Classifier: {classifier}",
        "",
        "| messages | n | category | needs_reply | urgency |",
        "|---|---|---|---|---|",
    ]
    groups = [("all", {"total": total, **{f: result[f] for f in FIELDS}})]
    groups += [(name, scores) for name, scores in result["by_group"].items()]
    for name, scores in groups:
        cells = [
            f"{scores[f]['correct']}/{scores['total']} ({pct(scores[f]['accuracy'])})"
            for f in FIELDS
        ]
        lines.append(f"| {name} | {scores['total']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| category | labelled | correct | recall | predicted | precision |",
        "|---|---|---|---|---|---|",
    ]
    for category, s in result["by_category"].items():
        lines.append(
            f"| {category} | {s['total']} | {s['correct']} | {pct(s['recall'])} "
            f"| {s['predicted']} | {pct(s['precision'])} |"
        )
    lines += ["", "| language | n | category | needs_reply | urgency |", "|---|---|---|---|---|"]
    for lang, scores in result["by_lang"].items():
        cells = [pct(scores[f]["accuracy"]) for f in FIELDS]
        lines.append(f"| {lang} | {scores['total']} | " + " | ".join(cells) + " |")
    lines += ["", *confusion_markdown(result), end]
    return "\n".join(lines)


def write_section(section: str, data: Path, results: Path = RESULTS) -> None:
    """Replace this data set's section of RESULTS.md, or append it; other sections stay."""
    start, end = markers(data)
    text = results.read_text(encoding="utf-8") if results.exists() else "# Benchmarks\n"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    results.write_text(text, encoding="utf-8")
