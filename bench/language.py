"""How well the customer's language is told from short Slack messages (SPEC §5.4, issue 17).

    python bench/language.py [--file bench/data/language_short.jsonl]

Runs `workers.language.detect_language` over the file and prints, per language and per set,
how many were right, left undetermined (None: too little text, or an unsure guess) and wrong,
then how long the model took to load and what it added to the process's memory. A wrong
language costs more than none: the offline draft would greet the customer in it, and the
model is told it as a hint. See bench/RESULTS.md for the numbers and what they were compared
with.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workers import language


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parent
    parser.add_argument("--file", type=Path, default=here / "data" / "language_short.jsonl")
    options = parser.parse_args()
    rows = [json.loads(line) for line in options.file.read_text().splitlines() if line.strip()]

    before = _rss_mb()
    started = time.monotonic()
    language.detect_language("the weekly report arrived empty again")
    loaded, memory = time.monotonic() - started, _rss_mb() - before

    by_language: dict[str, Counter[str]] = defaultdict(Counter)
    by_set: dict[str, Counter[str]] = defaultdict(Counter)
    wrong = []
    started = time.monotonic()
    for row in rows:
        found = language.detect_language(row["text"])
        outcome = "right" if found == row["language"] else "none" if found is None else "wrong"
        by_language[row["language"]][outcome] += 1
        by_set[row["set"]][outcome] += 1
        if outcome == "wrong":
            wrong.append((row["language"], found, row["text"]))
    per_message = (time.monotonic() - started) / max(1, len(rows)) * 1000

    print("| | messages | right | undetermined | wrong |\n|---|---|---|---|---|")
    for name, counts in [*sorted(by_language.items()), *sorted(by_set.items())]:
        total = sum(counts.values())
        print(f"| {name} | {total} | {counts['right']} | {counts['none']} | {counts['wrong']} |")
    total = Counter[str]()
    for counts in by_set.values():
        total.update(counts)
    print(
        f"| all | {sum(total.values())} | {total['right']} | {total['none']} | {total['wrong']} |"
    )
    print(f"\nload {loaded:.2f} s, +{memory:.0f} MB; {per_message:.2f} ms a message")
    for expected, found, text in wrong:
        print(f"wrong: {expected} read as {found}: {text!r}")


if __name__ == "__main__":
    main()
