"""Accuracy of the triage classifier (SPEC §5.2) on labelled customer messages.

Runs the offline classifier (`workers.triage.classify_offline`, learned; or with
`--classifier rules` the old keyword rules, `workers.triage_rules.classify_by_rules`) on every
message of a JSONL file (one object a line:
`text`, `category`, `urgency`, `needs_reply`, `lang`, optional `note`) and prints the accuracy on
category, needs_reply and urgency, a category confusion table, accuracy per language and the
misclassified messages. `--record` writes the counts and accuracies to bench/RESULTS.md, between
`<!-- triage-eval:<data file stem>:start/end -->` markers (appended if missing).

    python bench/triage_eval.py                 # print only
    python bench/triage_eval.py --record        # print and record in bench/RESULTS.md
    python bench/triage_eval.py --classifier rules --max-errors 0   # the old rules, counts only

`evaluate(rows, classify)` is the reusable part: the model-backed triage can be scored with it.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as `python bench/triage_eval.py` from a checkout
    sys.path.insert(0, str(REPO))

DEFAULT_DATA = REPO / "tests" / "data" / "triage_eval.jsonl"

from bench.triage_eval_record import (  # noqa: E402  (what is recorded in RESULTS.md)
    CLASSIFIERS,
    FIELDS,
    RESULTS,
    SHORT,
    markers,  # noqa: F401  (part of this script's interface: the tests read a section by it)
    record_section,
    write_section,
)
from bench.triage_eval_record import display as _display  # noqa: E402
from bench.triage_eval_record import pct as _pct  # noqa: E402
from workers.triage_types import Category, Urgency  # noqa: E402

CATEGORIES = tuple(category.value for category in Category)
URGENCIES = tuple(urgency.value for urgency in Urgency)


def load_rows(path: Path) -> list[dict[str, Any]]:
    """Read and check the labelled messages of a JSONL file (blank lines are skipped).

    Raises ValueError naming the line when a row lacks a field or has a label outside SPEC §5.2.
    """
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not JSON ({exc})") from exc
        problem = label_problem(row)
        if problem:
            raise ValueError(f"{path}:{number}: {problem}")
        rows.append(row)
    return rows


def label_problem(row: Any) -> str | None:
    """Why `row` is not a valid labelled message, or None when it is."""
    if not isinstance(row, dict):
        return "not a JSON object"
    if not isinstance(row.get("text"), str) or not row["text"].strip():
        return "`text` must be a non-empty string"
    if row.get("category") not in CATEGORIES:
        return f"`category` {row.get('category')!r} is not one of {', '.join(CATEGORIES)}"
    if row.get("urgency") not in URGENCIES:
        return f"`urgency` {row.get('urgency')!r} is not one of {', '.join(URGENCIES)}"
    if not isinstance(row.get("needs_reply"), bool):
        return "`needs_reply` must be true or false"
    if not isinstance(row.get("lang"), str) or not row["lang"]:
        return "`lang` must be a language code such as en"
    return None


def _value(result: Any, field: str) -> Any:
    """A field of a classifier's result (a Triage, any object or a dict), enums as their value."""
    value = result[field] if isinstance(result, dict) else getattr(result, field)
    return value.value if isinstance(value, Enum) else value


def _accuracy(correct: int, total: int) -> float:
    return correct / total if total else 0.0


def evaluate(rows: Sequence[dict[str, Any]], classify: Callable[[str], Any]) -> dict[str, Any]:
    """Score `classify` on labelled rows.

    `classify(text)` returns an object or dict with `category`, `urgency` and `needs_reply`
    (a `workers.triage.Triage` does). The result:

    - `total`: number of rows;
    - `category`, `needs_reply`, `urgency`: `{"correct": int, "accuracy": float}`;
    - `confusion`: `{expected category: {predicted category: count}}` (only non-zero cells);
    - `by_category`: `{category: {"total", "correct", "predicted", "recall", "precision"}}`;
    - `by_lang`: `{lang: {"total": int, field: {"correct", "accuracy"}}}` for each language;
    - `by_group`: the same for `"en"` and `"non-en"` (every other language), when non-empty;
    - `errors`: the rows where any field is wrong, each with `index`, `text`, `lang`,
      `expected`, `predicted` (the three fields) and `wrong` (the names of the wrong fields);
      `index` counts from 0 in `rows` (the report prints it from 1, as file lines).

    Raises ValueError on an empty list (there is no accuracy to report).
    """
    if not rows:
        raise ValueError("no labelled rows to evaluate")
    correct: Counter[str] = Counter()
    confusion: dict[str, Counter[str]] = {}
    predicted_count: Counter[str] = Counter()
    lang_total: Counter[str] = Counter()
    lang_correct: dict[str, Counter[str]] = {}
    errors: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        result = classify(row["text"])
        expected = {field: row[field] for field in FIELDS}
        predicted = {field: _value(result, field) for field in FIELDS}
        wrong = [field for field in FIELDS if predicted[field] != expected[field]]
        lang = row.get("lang", "en")
        lang_total[lang] += 1
        per_lang = lang_correct.setdefault(lang, Counter())
        for field in FIELDS:
            if field not in wrong:
                correct[field] += 1
                per_lang[field] += 1
        confusion.setdefault(expected["category"], Counter())[predicted["category"]] += 1
        predicted_count[predicted["category"]] += 1
        if wrong:
            errors.append(
                {
                    "index": index,
                    "text": row["text"],
                    "lang": lang,
                    "expected": expected,
                    "predicted": predicted,
                    "wrong": wrong,
                }
            )

    total = len(rows)

    def scores(hits: Counter[str], n: int) -> dict[str, Any]:
        out: dict[str, Any] = {"total": n}
        for field in FIELDS:
            out[field] = {"correct": hits[field], "accuracy": _accuracy(hits[field], n)}
        return out

    by_lang = {lang: scores(lang_correct[lang], n) for lang, n in sorted(lang_total.items())}
    groups: dict[str, tuple[Counter[str], int]] = {}
    for name, members in (("en", ["en"]), ("non-en", [x for x in lang_total if x != "en"])):
        hits: Counter[str] = Counter()
        for lang in members:
            hits.update(lang_correct.get(lang, Counter()))
        groups[name] = (hits, sum(lang_total[lang] for lang in members))
    labels = [c for c in CATEGORIES if c in confusion or c in predicted_count]
    labels += sorted((set(confusion) | set(predicted_count)) - set(labels))
    by_category = {}
    for category in labels:
        row_total = sum(confusion.get(category, Counter()).values())
        hit = confusion.get(category, Counter())[category]
        by_category[category] = {
            "total": row_total,
            "correct": hit,
            "predicted": predicted_count[category],
            "recall": _accuracy(hit, row_total),
            "precision": _accuracy(hit, predicted_count[category]),
        }
    return {
        "total": total,
        **{
            field: {"correct": correct[field], "accuracy": _accuracy(correct[field], total)}
            for field in FIELDS
        },
        "confusion": {exp: dict(preds) for exp, preds in confusion.items()},
        "by_category": by_category,
        "by_lang": by_lang,
        "by_group": {name: scores(hits, n) for name, (hits, n) in groups.items() if n},
        "errors": errors,
    }


def _truncate(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def report(result: dict[str, Any], data: Path, max_errors: int | None = None) -> None:
    """Print the accuracies, confusion table, per-language table and misclassified messages."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    total = result["total"]
    console.print(f"[bold]Triage eval[/bold]: {total} messages from {_display(data)}")
    for field in FIELDS:
        score = result[field]
        console.print(f"  {field:<12} {score['correct']:>4}/{total}  {_pct(score['accuracy'])}")

    labels = list(result["by_category"])
    confusion = Table(
        title="category: expected (rows) × predicted (columns)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    confusion.add_column("expected", no_wrap=True, min_width=len("feature_request"))
    for label in labels:
        confusion.add_column(SHORT.get(label, label[:5]), justify="right")
    confusion.add_column("recall", justify="right")
    for expected in labels:
        cells = result["confusion"].get(expected, {})
        if not cells:
            continue
        row = [
            (f"[bold]{n}[/bold]" if pred == expected else str(n)) if (n := cells.get(pred)) else "."
            for pred in labels
        ]
        confusion.add_row(expected, *row, _pct(result["by_category"][expected]["recall"]))
    console.print(confusion)

    langs = Table(title="per language", title_justify="left", box=box.SIMPLE_HEAD)
    for name in ("lang", "n", *FIELDS):
        langs.add_column(name, justify="left" if name == "lang" else "right")
    rows = list(result["by_lang"].items())
    if "non-en" in result["by_group"]:
        rows.append(("non-en", result["by_group"]["non-en"]))
    for lang, scores in rows:
        langs.add_row(
            lang, str(scores["total"]), *(_pct(scores[field]["accuracy"]) for field in FIELDS)
        )
    console.print(langs)

    errors = result["errors"]
    shown = errors if max_errors is None else errors[:max_errors]
    console.print(f"[bold]Misclassified[/bold] ({len(errors)} of {total} have a wrong field):")
    for error in shown:
        changes = ", ".join(
            f"{field} {error['expected'][field]}→{error['predicted'][field]}"
            for field in error["wrong"]
        )
        console.print(
            f"  row {error['index'] + 1:<3} [{error['lang']}] {_truncate(error['text'], 70)!r}\n"
            f"        {changes}",
            soft_wrap=True,
        )
    if len(shown) < len(errors):
        console.print(f"  … and {len(errors) - len(shown)} more (--max-errors)")


def parse_args(argv: Iterable[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="labelled JSONL (default: %(default)s)"
    )
    parser.add_argument(
        "--record", action="store_true", help="write the results to bench/RESULTS.md"
    )
    parser.add_argument(
        "--max-errors", type=int, default=None, help="list at most this many misclassified"
    )
    parser.add_argument(
        "--classifier",
        choices=sorted(CLASSIFIERS),
        default="model",
        help="the learned model (default) or the old keyword rules",
    )
    return parser.parse_args(None if argv is None else list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    """Evaluate the offline classifier; print, and record when asked."""
    from workers.triage import classify_offline
    from workers.triage_rules import classify_by_rules

    args = parse_args(argv)
    classify = classify_by_rules if args.classifier == "rules" else classify_offline
    try:
        rows = load_rows(args.data)
        result = evaluate(rows, classify)
    except (OSError, ValueError) as exc:
        print(f"triage_eval: {exc}", file=sys.stderr)
        return 2
    report(result, args.data, args.max_errors)
    if args.record:
        command = "python bench/triage_eval.py --record"
        if args.data.resolve() != DEFAULT_DATA.resolve():
            command += f" --data {shlex.quote(str(args.data))}"
        if args.classifier != "model":
            command += f" --classifier {args.classifier}"
        section = record_section(result, args.data, command, CLASSIFIERS[args.classifier])
        write_section(section, args.data)
        print(f"recorded in {_display(RESULTS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
