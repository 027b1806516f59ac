"""How well `triage gaps` groups requests (SPEC §6.7), on the real clustering code.

A labelled file (`bench/data/*.jsonl`: `text` and a label, `gap` or `incident`, null for a
request alone in what it asks) is grouped as `workers.gaps` groups the period's gap requests:
terms and IDF over the file's texts, average-linkage clustering at each threshold, groups of
fewer than `MIN_GROUP` requests listed apart. Printed per threshold: pairwise precision and
recall (two requests are "together" when they are in one group of at least two), how many
planted groups were found (most of their requests in one group, which is mostly theirs), and
how many groups were predicted.

    python bench/gaps.py bench/data/gaps_dev.jsonl [--threshold 0.3] [--show]

`gaps_dev.jsonl` was written for this, by the engineer who wrote the clustering (its bias is
said in bench/RESULTS.md); the two incident files were written by others, for another
grouping, and are read here with their `incident` labels: a second opinion, never tuned on.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from workers.gap_cluster import THRESHOLD, Vocabulary, cluster, name, terms  # noqa: E402
from workers.gaps import MIN_GROUP  # noqa: E402


def load(path: Path) -> tuple[list[str], list[str | None]]:
    texts, labels = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            texts.append(row["text"])
            labels.append(row.get("gap", row.get("incident")))
    return texts, labels


def groups_of(texts: list[str], threshold: float) -> list[list[int]]:
    documents = [terms(t) for t in texts]
    found = cluster(documents, Vocabulary.of(documents), threshold)
    return [g for g in found if len(g) >= MIN_GROUP]


def scores(groups: list[list[int]], labels: list[str | None]) -> dict[str, float]:
    predicted = {p for g in groups for p in itertools.combinations(sorted(g), 2)}
    planted = {
        (i, j)
        for i, j in itertools.combinations(range(len(labels)), 2)
        if labels[i] is not None and labels[i] == labels[j]
    }
    both = len(predicted & planted)
    names = {label for label in labels if label is not None}
    found = 0
    for label in names:
        members = {i for i, x in enumerate(labels) if x == label}
        for group in groups:
            mine = len(members & set(group))
            if mine * 2 > len(members) and mine * 2 > len(group):
                found += 1
                break
    return {
        "precision": both / len(predicted) if predicted else 1.0,
        "recall": both / len(planted) if planted else 1.0,
        "found": found,
        "planted": len(names),
        "groups": len(groups),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--threshold", type=float, action="append")
    parser.add_argument("--show", action="store_true", help="print each group with its name")
    args = parser.parse_args()
    thresholds = args.threshold or [THRESHOLD]
    for path in args.files:
        texts, labels = load(path)
        print(f"{path.name}: {len(texts)} requests, {len(set(labels) - {None})} planted groups")
        for threshold in thresholds:
            groups = groups_of(texts, threshold)
            s = scores(groups, labels)
            print(
                f"  threshold {threshold:.2f}: precision {s['precision']:.3f} recall "
                f"{s['recall']:.3f}  planted found {s['found']}/{s['planted']}  "
                f"groups {s['groups']}"
            )
            if args.show:
                vocabulary = Vocabulary.of(terms(t) for t in texts)
                for group in groups:
                    made_of = Counter(labels[i] for i in group)
                    words = " · ".join(name([texts[i] for i in group], vocabulary))
                    print(f"    [{len(group)}] {words}  {dict(made_of)}")


if __name__ == "__main__":
    main()
