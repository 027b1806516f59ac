"""K-fold cross-validation of the offline triage classifier on its training set (SPEC §5.2).

Each fold trains `workers.triage_training.train` on the other folds (folds stratified by
category, fixed seed) and classifies its own messages; the predictions of all folds are then
scored like `bench/triage_eval.py` scores a classifier: accuracy of category, needs_reply and
urgency, per language, and a category confusion table.

    python bench/triage_cv.py                      # the shipped recipe, 5 folds
    python bench/triage_cv.py --compare            # the recipes weighed against each other
    python bench/triage_cv.py --compare --record   # ... and written to bench/RESULTS.md

Cross-validation over one writer's messages flatters the model (it has seen that writer's
voice); the held-out set written by someone else is the honest measure (bench/triage_eval.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import triage_eval  # noqa: E402  (bench/ is not a package; this file's folder is on the path)

from workers.triage_training import Recipe, read_rows, train  # noqa: E402

DEFAULT_DATA = REPO / "workers" / "classifier_data" / "train.jsonl"
START, END = "<!-- triage-cv:start -->", "<!-- triage-cv:end -->"

# Each variant changes one thing of the shipped recipe.
VARIANTS: dict[str, Recipe] = {
    "shipped: chars 1-5, words 1-2 (CJK as character pairs), cues x0.3, C=1, "
    "no_action margin 0.5": Recipe(),
    "no_action by plain argmax (margin 0, no question-mark guard)": Recipe(no_action_margin=-1.0),
    "no keyword cues": Recipe(cue_weight=0.0),
    "cues x0.6": Recipe(cue_weight=0.6),
    "category C=0.3 (more penalty)": Recipe(category_c=0.3),
    "category C=3 (less penalty)": Recipe(category_c=3.0),
    "urgency C=0.3": Recipe(urgency_c=0.3),
    "chars 2-4": Recipe(chars=(2, 4)),
    "chars 1-6": Recipe(chars=(1, 6)),
    "n-grams seen once kept (min_df 1)": Recipe(min_df=1),
}


def folds(rows: Sequence[dict[str, Any]], k: int, seed: int = 0) -> list[int]:
    """A fold number per row, each category spread evenly over the folds."""
    by_category: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        by_category[row["category"]].append(index)
    fold = [0] * len(rows)
    offset = 0
    for category in sorted(by_category):
        members = by_category[category]
        random.Random(f"{seed}:{category}").shuffle(members)
        for position, index in enumerate(members):
            fold[index] = (offset + position) % k
        offset += len(members)
    return fold


def cross_validate(
    rows: Sequence[dict[str, Any]], recipe: Recipe, k: int = 5
) -> tuple[dict[str, Any], float]:
    """Out-of-fold predictions scored by triage_eval.evaluate; and the seconds it took."""
    started = time.monotonic()
    fold = folds(rows, k)
    predicted: dict[int, Any] = {}
    for f in range(k):
        model = train([r for r, g in zip(rows, fold, strict=True) if g != f], recipe=recipe)
        for index, row in enumerate(rows):
            if fold[index] == f:
                predicted[index] = model.classify(row["text"])
    answers = iter(predicted[i] for i in range(len(rows)))
    result = triage_eval.evaluate(rows, lambda _text: next(answers))
    return result, time.monotonic() - started


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def comparison_table(results: dict[str, dict[str, Any]], small: Sequence[str]) -> list[str]:
    """Markdown rows: each recipe's accuracies, overall and for the small languages together."""
    lines = [
        "| recipe | category | needs_reply | urgency | category en / es / zh | "
        f"category {' + '.join(small)} |",
        "|---|---|---|---|---|---|",
    ]
    for name, result in results.items():
        by_lang = result["by_lang"]
        main = " / ".join(
            _pct(by_lang[lang]["category"]["accuracy"]) for lang in ("en", "es", "zh")
        )
        hits = sum(by_lang[lang]["category"]["correct"] for lang in small if lang in by_lang)
        total = sum(by_lang[lang]["total"] for lang in small if lang in by_lang)
        lines.append(
            f"| {name} | {_pct(result['category']['accuracy'])} "
            f"| {_pct(result['needs_reply']['accuracy'])} | {_pct(result['urgency']['accuracy'])} "
            f"| {main} | {_pct(hits / total if total else 0.0)} ({total}) |"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--compare", action="store_true", help="every recipe in VARIANTS")
    parser.add_argument("--record", action="store_true", help="write to bench/RESULTS.md")
    args = parser.parse_args(argv)
    rows = read_rows(args.data)
    for row in rows:
        row.setdefault("lang", "und")
        row.setdefault("needs_reply", row["category"] != "no_action")
    recipes = VARIANTS if args.compare else {"shipped": Recipe()}
    results: dict[str, dict[str, Any]] = {}
    for name, recipe in recipes.items():
        result, seconds = cross_validate(rows, recipe, args.folds)
        results[name] = result
        print(
            f"{name}: category {_pct(result['category']['accuracy'])}, needs_reply "
            f"{_pct(result['needs_reply']['accuracy'])}, urgency "
            f"{_pct(result['urgency']['accuracy'])} ({seconds:.0f} s)",
            flush=True,
        )
    shipped = next(iter(results.values()))
    triage_eval.report(shipped, args.data, max_errors=0)
    small = sorted({r["lang"] for r in rows} - {"en", "es", "zh", "und"})
    table = comparison_table(results, small)
    print("\n".join(table))
    if args.record:
        _record(args, rows, shipped, table)
    return 0


def _record(
    args: argparse.Namespace,
    rows: Sequence[dict[str, Any]],
    shipped: dict[str, Any],
    table: list[str],
) -> None:
    section = triage_eval.record_section(
        shipped,
        args.data,
        "python bench/triage_cv.py" + (" --compare" if args.compare else "") + " --record",
        classifier=f"`workers.triage_training.train`, {args.folds}-fold cross-validation "
        "(stratified by category, seed 0)",
        title=f"Triage: offline classifier, {args.folds}-fold cross-validation on {args.data.stem}",
    )
    body = section.split("\n", 1)[1].rsplit("\n", 1)[0]  # without triage_eval's own markers
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    compared = f"Recipes compared ({now}), each changing one thing of the shipped one:"
    text = "\n".join([START, body, "", compared, "", *table, END])
    results = triage_eval.RESULTS
    current = results.read_text(encoding="utf-8")
    if START in current and END in current:
        before, rest = current.split(START, 1)
        current = before + text + rest.split(END, 1)[1]
    else:
        current = current.rstrip("\n") + "\n\n" + text + "\n"
    results.write_text(current, encoding="utf-8")
    print(f"recorded in {results.relative_to(REPO)} ({len(rows)} rows)")


if __name__ == "__main__":
    sys.exit(main())
