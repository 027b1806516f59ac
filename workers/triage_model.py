"""The learned offline triage classifier (SPEC §5.2): used without a model and whenever it fails.

A linear model per target (category, urgency) over TF-IDF weighted character and word n-grams
and keyword cue groups (`workers.triage_features`), trained on the bundled labelled messages
(`workers/classifier_data/train.jsonl`) by `workers.triage_training` (`triage classify --train`).

The trained model ships with the package as `workers/classifier_data/triage_model.npz`: the
vocabulary, its IDF weights and the coefficients, in NumPy arrays only (loaded with
`allow_pickle=False`, so the file holds no code). It loads once per process, in tens of
milliseconds, and classifies a message in well under a millisecond.
"""

from __future__ import annotations

import functools
import json
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workers.triage_features import CHAR_MAX, CHAR_MIN, CUE_WEIGHT, groups
from workers.triage_rules import summary
from workers.triage_types import Category, Triage, Urgency

PACKAGED_MODEL = Path(__file__).resolve().parent / "classifier_data" / "triage_model.npz"
FORMAT = 2  # 2: Chinese and Japanese words are character pairs (format 1 read them whole)
NO_ACTION_MARGIN = 0.3  # chosen by 5-fold CV: missed replies 44 -> 10, extra cards 21 -> 40
# Longer than any no-action message the model learned from (the longest is 183 characters):
# "thanks!" is short, and a long message the model cannot read (a pasted log, 40,000
# characters of anything) must still reach a person.
NO_ACTION_MAX_CHARS = 300
_QUESTION_MARK = re.compile(r"[?？¿]")
TARGETS = ("category", "urgency")


@dataclass(frozen=True)
class Sparse:
    """Rows of feature values (CSR): row i is indices[indptr[i]:indptr[i+1]] with their data."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    width: int

    @property
    def rows(self) -> int:
        return len(self.indptr) - 1

    def dot(self, weights: np.ndarray) -> np.ndarray:
        """This matrix times `weights` (width × k): rows × k."""
        products = self.data[:, None] * weights[self.indices]
        return _sum_segments(products, self.indptr)

    def transposed(self) -> Sparse:
        """The same values, column by column (to multiply by the transpose)."""
        rows = np.repeat(np.arange(self.rows), np.diff(self.indptr))
        order = np.argsort(self.indices, kind="stable")
        indptr = np.zeros(self.width + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.indices, minlength=self.width), out=indptr[1:])
        return Sparse(indptr, rows[order], self.data[order], self.rows)


def _sum_segments(values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Sums of values[indptr[i]:indptr[i+1]] for each i; zero for an empty segment."""
    out = np.zeros((len(indptr) - 1, values.shape[1]))
    filled = np.flatnonzero(np.diff(indptr))
    if len(filled):
        out[filled] = np.add.reduceat(values, indptr[filled], axis=0)
    return out


@dataclass
class Vectoriser:
    """Feature name → column, and each column's IDF weight."""

    vocabulary: dict[str, int]
    idf: np.ndarray
    cue_weight: float = CUE_WEIGHT
    chars: tuple[int, int] = (CHAR_MIN, CHAR_MAX)

    def row(self, text: str) -> tuple[list[int], list[float]]:
        """One message's columns and values: log-scaled, IDF-weighted, unit length per group."""
        columns: list[int] = []
        values: list[float] = []
        for counts, weighted in groups(text, self.chars):
            start = len(values)
            for name, count in counts.items():
                column = self.vocabulary.get(name)
                if column is None:
                    continue
                columns.append(column)
                if weighted:
                    values.append((1.0 + math.log(count)) * float(self.idf[column]))
                else:
                    values.append(self.cue_weight)
            if weighted:
                norm = math.sqrt(sum(v * v for v in values[start:]))
                for i in range(start, len(values)):
                    values[i] /= norm or 1.0
        return columns, values

    def matrix(self, texts: list[str]) -> Sparse:
        indptr = [0]
        indices: list[int] = []
        data: list[float] = []
        for text in texts:
            columns, values = self.row(text)
            indices += columns
            data += values
            indptr.append(len(indices))
        return Sparse(
            np.asarray(indptr, dtype=np.int64),
            np.asarray(indices, dtype=np.int64),
            np.asarray(data, dtype=np.float64),
            len(self.vocabulary),
        )


@dataclass
class Linear:
    """One target's classes and a linear score per class: features @ coef + intercept."""

    classes: list[str]
    coef: np.ndarray  # width × classes
    intercept: np.ndarray  # classes

    def scores(self, columns: list[int], values: list[float]) -> np.ndarray:
        picked = self.coef[columns].astype(np.float64)
        return np.asarray(values, dtype=np.float64) @ picked + self.intercept


@dataclass
class TriageModel:
    vectoriser: Vectoriser
    targets: dict[str, Linear]
    meta: dict[str, Any] = field(default_factory=dict)
    no_action_margin: float = NO_ACTION_MARGIN

    def classify(self, text: str) -> Triage:
        """Category, urgency, needs-reply (exactly when not no_action) and a one-line summary.

        No card is the costly mistake, so `no_action` must win by `no_action_margin` over the
        next category, and a message asking something (a question mark) or longer than
        `NO_ACTION_MAX_CHARS` always needs a reply (none of the training set's no-action
        messages is either). A negative margin turns both
        off (plain argmax, for comparison)."""
        clean = " ".join(text.split())
        columns, values = self.vectoriser.row(text)
        category = Category(self._category(text, columns, values))
        urgency = Urgency(self._best("urgency", columns, values))
        if category == Category.NO_ACTION:
            urgency = Urgency.LOW  # nothing to answer is never pressing
        return Triage(
            category=category,
            urgency=urgency,
            summary=summary(clean) or "(no text)",
            needs_reply=category != Category.NO_ACTION,
        )

    def _category(self, text: str, columns: list[int], values: list[float]) -> str:
        linear = self.targets["category"]
        scores = linear.scores(columns, values)
        order = np.argsort(scores)[::-1]
        best, runner_up = linear.classes[order[0]], order[1]
        if (
            best == Category.NO_ACTION
            and self.no_action_margin >= 0
            and (
                scores[order[0]] - scores[runner_up] <= self.no_action_margin
                or _asks(text)
                or len(" ".join(text.split())) > NO_ACTION_MAX_CHARS
            )
        ):
            return linear.classes[runner_up]
        return best

    def _best(self, target: str, columns: list[int], values: list[float]) -> str:
        linear = self.targets[target]
        return linear.classes[int(np.argmax(linear.scores(columns, values)))]

    def save(self, path: Path) -> None:
        """Write the model as compressed NumPy arrays (no pickled objects)."""
        names = sorted(self.vectoriser.vocabulary, key=self.vectoriser.vocabulary.__getitem__)
        arrays: dict[str, np.ndarray] = {
            "format": np.asarray(FORMAT),
            "vocabulary": _text_array("\n".join(names)),
            "idf": self.vectoriser.idf.astype(np.float32),
            "cue_weight": np.asarray(self.vectoriser.cue_weight),
            "chars": np.asarray(self.vectoriser.chars),
            "meta": _text_array(json.dumps(self.meta, sort_keys=True)),
            "no_action_margin": np.asarray(self.no_action_margin),
        }
        for target, linear in self.targets.items():
            arrays[f"{target}_classes"] = _text_array("\n".join(linear.classes))
            arrays[f"{target}_coef"] = linear.coef.astype(np.float32)
            arrays[f"{target}_intercept"] = linear.intercept.astype(np.float32)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            np.savez_compressed(out, **arrays)  # type: ignore[arg-type]  # numpy stubs: allow_pickle


def load_model(path: Path) -> TriageModel:
    """Read a model written by `TriageModel.save`; ValueError when it is not one."""
    try:
        with np.load(path, allow_pickle=False) as arrays:
            if int(arrays["format"]) != FORMAT:
                raise ValueError(f"{path}: model format {int(arrays['format'])}, not {FORMAT}")
            names = _text(arrays["vocabulary"]).split("\n")
            low, high = (int(n) for n in arrays["chars"])
            vectoriser = Vectoriser(
                {n: i for i, n in enumerate(names)},
                arrays["idf"],
                float(arrays["cue_weight"]),
                (low, high),
            )
            targets = {
                t: Linear(
                    _text(arrays[f"{t}_classes"]).split("\n"),
                    arrays[f"{t}_coef"],
                    arrays[f"{t}_intercept"].astype(np.float64),
                )
                for t in TARGETS
            }
            meta = json.loads(_text(arrays["meta"]))
            margin = float(arrays["no_action_margin"])
    except (KeyError, OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: not a triage model ({exc})") from exc
    return TriageModel(vectoriser, targets, meta, margin)


@functools.cache
def packaged_model() -> TriageModel:
    """The model that ships with the package, read once per process."""
    return load_model(PACKAGED_MODEL)


def classify_offline(text: str) -> Triage:
    """Triage a customer's words with the packaged learned classifier."""
    return packaged_model().classify(text)


def _asks(text: str) -> bool:
    return bool(_QUESTION_MARK.search(text))


def _text_array(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def _text(array: np.ndarray) -> str:
    return array.tobytes().decode("utf-8")
