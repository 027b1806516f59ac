"""The learned offline triage classifier (SPEC §5.2): used without a model and whenever it fails.

A linear model per target (category, urgency) over TF-IDF weighted character and word n-grams,
keyword cue groups (`workers.triage_features`) and the message's meaning (the 512 numbers of the
multilingual encoder the package ships, `integrations/local_embeddings.py`, times
`meaning_weight`), trained on the bundled labelled messages
(`workers/classifier_data/train.jsonl`) by `workers.triage_training` (`triage classify --train`).

The trained model ships with the package as `workers/classifier_data/triage_model.npz`: the
vocabulary, its IDF weights and the coefficients, in NumPy arrays only (loaded with
`allow_pickle=False`, so the file holds no code). It loads once per process, in tens of
milliseconds; a message's n-grams take well under a millisecond, its meaning a few (the
encoder loads once per process, in `warm_up` for a worker). The listener's priority hint reads
words only (`words_only`): no encoder in the ack path.
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
import structlog

from integrations.llm import ModelUnavailable
from integrations.local_embeddings import MODEL_NAME, LocalEmbedder, encoder_allowed
from workers.triage_features import CHAR_MAX, CHAR_MIN, CUE_WEIGHT, groups
from workers.triage_rules import summary
from workers.triage_types import Category, Triage, Urgency

PACKAGED_MODEL = Path(__file__).resolve().parent / "classifier_data" / "triage_model.npz"
# 2: Chinese and Japanese words are character pairs (format 1 read them whole); 3: meaning
FORMAT = 3
DIMENSIONS = 512  # the local encoder's vector
# Chosen by 5-fold CV: missed replies 44 -> 10, extra cards 21 -> 40 at 0.3 (session 6); on the
# 2,193 messages of session 8 (short requests among them), missed replies of 1,763 / cards for
# nothing of 430: 0.3 11 / 41, 0.4 9 / 46, 0.5 5 / 55, 0.8 0 / 84
NO_ACTION_MARGIN = 0.5
# Longer than any no-action message the model learned from (the longest is 183 characters):
# "thanks!" is short, and a long message the model cannot read (a pasted log, 40,000
# characters of anything) must still reach a person.
NO_ACTION_MAX_CHARS = 300
_QUESTION_MARK = re.compile(r"[?？¿]")
# Asking for something in so many words, in the languages of the training set. Short requests
# ("Please delete all our data") read as no_action to the model (short messages mostly are);
# 7 of the training set's 425 no_action messages hold one of these (out-of-office notes,
# "please ignore").
_REQUEST = re.compile(
    r"\b(please|pls|plz|can you|could you|would you|bitte|por favor|por gentileza|merci de"
    r"|s'il vous pla[iî]t|svp)\b|请|請|ください|下さい",
    re.IGNORECASE,
)
TARGETS = ("category", "urgency")
WORDS = "words_"  # a model that reads meaning has n-gram-only heads too: `words_category`...
log = structlog.get_logger(__name__)


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


class Columns:
    """Feature name → column, held as the names' 64-bit hashes, sorted, instead of a dict.

    Every process that classifies (each worker, each web process for the priority hint) holds
    the vocabulary: ~67,000 n-grams as a dict of strings took ~11 MB of each; these arrays take
    under 1.5 MB. Python's string hash is salted per process, so the hashes are computed as the
    model loads. A name outside the vocabulary whose hash equals one inside would be read as
    that one: about one chance in 10^14 for each n-gram of a message."""

    def __init__(self, names: list[str]) -> None:
        hashes = np.fromiter(map(hash, names), dtype=np.int64, count=len(names))
        order = np.argsort(hashes, kind="stable")
        self._hashes = hashes[order]
        self._columns = order.astype(np.int64)
        self._names = _text_array("\n".join(names))  # for `names` (saving): UTF-8 bytes

    def __len__(self) -> int:
        return len(self._hashes)

    def find(self, names: list[str]) -> np.ndarray:
        """Each name's column, -1 for a name outside the vocabulary."""
        if not names or not len(self._hashes):
            return np.full(len(names), -1, dtype=np.int64)
        hashes = np.fromiter(map(hash, names), dtype=np.int64, count=len(names))
        at = np.minimum(np.searchsorted(self._hashes, hashes), len(self._hashes) - 1)
        return np.where(self._hashes[at] == hashes, self._columns[at], -1)

    def names(self) -> list[str]:
        """The names in column order."""
        return _text(self._names).split("\n") if len(self._hashes) else []


@dataclass
class Vectoriser:
    """Feature name → column, and each column's IDF weight."""

    vocabulary: Columns
    idf: np.ndarray
    cue_weight: float = CUE_WEIGHT
    chars: tuple[int, int] = (CHAR_MIN, CHAR_MAX)
    meaning_weight: float = 0.0  # 0: n-grams and cues only

    @property
    def width(self) -> int:
        return len(self.vocabulary) + (DIMENSIONS if self.meaning_weight else 0)

    def row(self, text: str, meaning: np.ndarray | None = None) -> tuple[list[int], list[float]]:
        """One message's columns and values: log-scaled, IDF-weighted, unit length per group;
        then its `meaning` (unit length) times `meaning_weight`, when both are there."""
        columns: list[int] = []
        values: list[float] = []
        for counts, weighted in groups(text, self.chars):
            found = self.vocabulary.find(list(counts))
            known = found >= 0
            picked = found[known]
            if weighted:
                tally = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))[known]
                weights = (1.0 + np.log(tally)) * self.idf[picked].astype(np.float64)
                weights /= math.sqrt(float(weights @ weights)) or 1.0
            else:
                weights = np.full(len(picked), self.cue_weight)
            columns += picked.tolist()
            values += weights.tolist()
        if self.meaning_weight and meaning is not None:
            columns.extend(range(len(self.vocabulary), self.width))
            values.extend((self.meaning_weight * meaning).tolist())
        return columns, values

    def meanings(self, texts: list[str]) -> list[np.ndarray | None]:
        """Each text's vector when this vectoriser reads meaning (None: it does not, or the
        encoder failed: the n-grams decide alone)."""
        if not self.meaning_weight or not texts or not encoder_allowed():
            return [None] * len(texts)
        try:
            return [np.asarray(v) for v in LocalEmbedder().embed(texts)]
        except ModelUnavailable as exc:
            log.warning("triage_model.no_meaning", reason=str(exc))
            return [None] * len(texts)

    def matrix(self, texts: list[str], *, meaning: bool = True) -> Sparse:
        """The messages' rows; `meaning` False: the n-grams and cues only."""
        indptr = [0]
        indices: list[int] = []
        data: list[float] = []
        meanings = self.meanings(texts) if meaning else [None] * len(texts)
        for text, meaning_of in zip(texts, meanings, strict=True):
            columns, values = self.row(text, meaning_of)
            indices += columns
            data += values
            indptr.append(len(indices))
        return Sparse(
            np.asarray(indptr, dtype=np.int64),
            np.asarray(indices, dtype=np.int64),
            np.asarray(data, dtype=np.float64),
            self.width if meaning else len(self.vocabulary),
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

    def classify(self, text: str, *, words_only: bool = False) -> Triage:
        """Category, urgency, needs-reply (exactly when not no_action) and a one-line summary;
        `words_only`: by the heads trained on n-grams alone (no encoder: a fast hint), which
        also answer when the encoder fails.

        No card is the costly mistake, so `no_action` must win by `no_action_margin` over the
        next category, and a message asking something (a question mark, or "please" and its kin
        in the training set's languages: `_asks`) or longer than `NO_ACTION_MAX_CHARS` always
        needs a reply (of the training set's 425 no-action messages, none is long, none has a
        question mark, 7 say "please"). A negative margin turns all three off (plain argmax,
        for comparison)."""
        clean = " ".join(text.split())
        [meaning] = [None] if words_only else self.vectoriser.meanings([text])
        columns, values = self.vectoriser.row(text, meaning)
        heads = WORDS if meaning is None and WORDS + "category" in self.targets else ""
        category = Category(self._category(text, columns, values, heads + "category"))
        urgency = Urgency(self._best(heads + "urgency", columns, values))
        if category == Category.NO_ACTION:
            urgency = Urgency.LOW  # nothing to answer is never pressing
        return Triage(
            category=category,
            urgency=urgency,
            summary=summary(clean) or "(no text)",
            needs_reply=category != Category.NO_ACTION,
        )

    def _category(self, text: str, columns: list[int], values: list[float], target: str) -> str:
        linear = self.targets[target]
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
        names = self.vectoriser.vocabulary.names()
        arrays: dict[str, np.ndarray] = {
            "format": np.asarray(FORMAT),
            "vocabulary": _text_array("\n".join(names)),
            "idf": self.vectoriser.idf.astype(np.float32),
            "cue_weight": np.asarray(self.vectoriser.cue_weight),
            "chars": np.asarray(self.vectoriser.chars),
            "meaning_weight": np.asarray(self.vectoriser.meaning_weight),
            "meaning_model": _text_array(MODEL_NAME),
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
            if _text(arrays["meaning_model"]) != MODEL_NAME:
                raise ValueError(f"meaning from {_text(arrays['meaning_model'])}, not {MODEL_NAME}")
            vectoriser = Vectoriser(
                Columns(names),
                arrays["idf"],
                float(arrays["cue_weight"]),
                (low, high),
                float(arrays["meaning_weight"]),
            )
            heads = [*TARGETS, *(WORDS + t for t in TARGETS if f"{WORDS}{t}_coef" in arrays)]
            targets = {
                t: Linear(
                    _text(arrays[f"{t}_classes"]).split("\n"),
                    arrays[f"{t}_coef"],
                    arrays[f"{t}_intercept"].astype(np.float64),
                )
                for t in heads
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


def classify_offline(text: str, *, words_only: bool = False) -> Triage:
    """Triage a customer's words with the packaged learned classifier."""
    return packaged_model().classify(text, words_only=words_only)


def _asks(text: str) -> bool:
    """A question mark, or a request in so many words: never nothing to answer."""
    return bool(_QUESTION_MARK.search(text) or _REQUEST.search(text))


def _text_array(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def _text(array: np.ndarray) -> str:
    return array.tobytes().decode("utf-8")
