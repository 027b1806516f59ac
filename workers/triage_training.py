"""Training the offline triage classifier (`triage classify --train FILE`), in NumPy alone.

Rows are labelled messages, one JSON object a line: `text`, `category`, `urgency` (and
`needs_reply`, which must agree: false exactly for `no_action`; other keys are ignored). The
vectoriser keeps the n-grams seen in at least `MIN_DF` messages; each target gets a one-vs-rest
linear model with a squared hinge loss and an L2 penalty (what scikit-learn's LinearSVC fits),
by dual coordinate descent. Settings were chosen by 5-fold cross-validation (bench/triage_cv.py;
bench/RESULTS.md has the comparison).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workers.triage_features import CHAR_MAX, CHAR_MIN, CUE_WEIGHT, groups
from workers.triage_model import (
    NO_ACTION_MARGIN,
    TARGETS,
    WORDS,
    Columns,
    Linear,
    Sparse,
    TriageModel,
    Vectoriser,
)
from workers.triage_types import Category, Urgency

# n-grams seen once too (min_df 1): 76.1% against 75.5% on category by 5-fold CV over five fold
# seeds, 0 to 1.1 points a seed, urgency 0.2 lower, for 3.5 times the features (2.3 MB): not kept.
MIN_DF = 2
# Loss weight against the penalty, as scikit-learn's C, per target. By 5-fold CV over five
# fold seeds, category scores the same at C=0.3, 0.5 and 1 (75.5%, 75.4%, 75.5%) and urgency
# loses a point at 0.3: both stay at 1.
C = {"category": 1.0, "urgency": 1.0}
# The meaning columns' weight against the n-grams' (each group unit length): by 5-fold CV,
# category 75.5% without, 82.5 / 83.4 / 83.8 / 83.5 / 82.6 / 82.1% at 0.5 / 0.75 / 1 / 1.25 /
# 1.5 / 2 (bench/RESULTS.md)
MEANING_WEIGHT = 1.0
MAX_EPOCHS = 200
TOLERANCE = 0.05  # the largest projected gradient left after an epoch


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The labelled rows of a JSONL file; ValueError naming the line of the first bad one."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not JSON ({exc})") from exc
        problem = _problem(row)
        if problem:
            raise ValueError(f"{path}:{number}: {problem}")
        rows.append(row)
    if not rows:
        raise ValueError(f"{path}: no labelled rows")
    return rows


def _problem(row: Any) -> str | None:
    if not isinstance(row, dict) or not isinstance(row.get("text"), str):
        return "not an object with a `text` string"
    if row.get("category") not in set(Category):
        return f"`category` {row.get('category')!r} is not one of {', '.join(Category)}"
    if row.get("urgency") not in set(Urgency):
        return f"`urgency` {row.get('urgency')!r} is not one of {', '.join(Urgency)}"
    if "needs_reply" in row and row["needs_reply"] != (row["category"] != Category.NO_ACTION):
        return "`needs_reply` must be false exactly when `category` is no_action"
    return None


def fit_vectoriser(
    texts: Sequence[str],
    min_df: int = MIN_DF,
    cue_weight: float = CUE_WEIGHT,
    chars: tuple[int, int] = (CHAR_MIN, CHAR_MAX),
    meaning_weight: float = MEANING_WEIGHT,
) -> Vectoriser:
    """The features seen in at least `min_df` messages (cue groups always), with smooth IDF,
    and the messages' meaning at `meaning_weight` (0: none)."""
    seen: Counter[str] = Counter()
    for text in texts:
        for counts, _ in groups(text, chars):
            seen.update(counts.keys())
    names = sorted(n for n, df in seen.items() if df >= min_df or n.startswith("k:"))
    n = len(texts)
    idf = np.asarray([math.log((1 + n) / (1 + seen[name])) + 1 for name in names])
    return Vectoriser(Columns(names), idf, cue_weight, chars, meaning_weight)


def fit_linear(x: Sparse, labels: Sequence[str], c: float = 1.0, seed: int = 0) -> Linear:
    """One-vs-rest squared hinge loss with an L2 penalty (the intercept a penalised constant
    feature, as liblinear has it), fitted by dual coordinate descent (Hsieh et al., 2008), every
    class at once: each step visits one message and moves each class's weight on its features."""
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ValueError(f"every row has the same label ({classes[0]}): nothing to learn")
    y = np.where(np.asarray(labels)[:, None] == np.asarray(classes)[None, :], 1.0, -1.0)
    coef = np.zeros((x.width, len(classes)))
    intercept = np.zeros(len(classes))
    alpha = np.zeros_like(y)
    diagonal = 0.5 / c
    rows = [(x.indices[a:b], x.data[a:b]) for a, b in zip(x.indptr[:-1], x.indptr[1:], strict=True)]
    curvature = [float(values @ values) + 1.0 + diagonal for _, values in rows]
    order = np.random.default_rng(seed).permutation
    for _ in range(MAX_EPOCHS):
        worst = 0.0
        for i in order(len(rows)):
            columns, values = rows[i]
            gradient = y[i] * (values @ coef[columns] + intercept) - 1.0 + diagonal * alpha[i]
            projected = np.where(alpha[i] > 0, gradient, np.minimum(gradient, 0.0))
            worst = max(worst, float(np.abs(projected).max()))
            new = np.maximum(alpha[i] - gradient / curvature[i], 0.0)
            change = (new - alpha[i]) * y[i]
            alpha[i] = new
            coef[columns] += values[:, None] * change
            intercept += change
        if worst <= TOLERANCE:
            break
    return Linear(classes, coef, intercept)


@dataclass(frozen=True)
class Recipe:
    """How a model is trained (the defaults are the shipped model's, chosen by CV)."""

    category_c: float = C["category"]
    urgency_c: float = C["urgency"]
    min_df: int = MIN_DF
    cue_weight: float = CUE_WEIGHT
    chars: tuple[int, int] = (CHAR_MIN, CHAR_MAX)
    no_action_margin: float = NO_ACTION_MARGIN
    meaning_weight: float = MEANING_WEIGHT


def train(
    rows: Sequence[dict[str, Any]], source: str = "", recipe: Recipe = Recipe()
) -> TriageModel:
    """A model for category and urgency from labelled rows."""
    texts = [row["text"] for row in rows]
    vectoriser = fit_vectoriser(
        texts, recipe.min_df, recipe.cue_weight, recipe.chars, recipe.meaning_weight
    )
    x = vectoriser.matrix(texts)
    c = {"category": recipe.category_c, "urgency": recipe.urgency_c}
    targets = {t: fit_linear(x, [row[t] for row in rows], c[t]) for t in TARGETS}
    if vectoriser.meaning_weight:  # heads for n-grams alone: the listener's hint, a fallback
        words = vectoriser.matrix(texts, meaning=False)
        for t in TARGETS:
            targets[WORDS + t] = fit_linear(words, [row[t] for row in rows], c[t])
    digest = hashlib.sha256("\n".join(json.dumps(r, sort_keys=True) for r in rows).encode())
    meta = {
        "trained_on": source,
        "rows": len(rows),
        "rows_sha256": digest.hexdigest(),
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "features": len(vectoriser.vocabulary),
        "recipe": asdict(recipe),
    }
    return TriageModel(vectoriser, targets, meta, recipe.no_action_margin)
