"""The language model, behind one small interface: structured output or a reason it failed.

Uses the openai client's own bounded retries (which honour `Retry-After` on 429) and timeout,
and its structured-output `parse`, so the answer is a validated pydantic model or an error.
Works with any OpenAI-compatible endpoint (`OPENAI_BASE_URL`), such as `sandbox/openai_server.py`.

`embed` turns texts into vectors (`EMBEDDING_MODEL`, the Embeddings endpoint) through the same
client, in batches, with a shorter timeout and one retry: retrieval and suggestions fall back
to word matching when it fails, and a draft should not wait long for a vector.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar, cast

import openai
import structlog
from pydantic import BaseModel

log = structlog.get_logger(__name__)
T = TypeVar("T", bound=BaseModel)

EMBED_BATCH = 256  # texts per Embeddings request (OpenAI takes up to 2048)
EMBED_TIMEOUT = 5.0  # seconds per attempt, at most the chat model's timeout
EMBED_CHARS = 8000  # a text is cut here: OpenAI's limit is 8192 tokens per input
EMBED_PAUSE = 30.0  # after a failed embedding call, seconds before this client tries again


class ModelUnavailable(Exception):
    """The model gave no usable answer; `str(exc)` says why, in words for the card, and
    `status` is the API's HTTP status when it answered with an error."""

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


class LanguageModel(Protocol):
    name: str

    def parse(self, messages: list[dict[str, Any]], schema: type[T]) -> T: ...


class Embedder(Protocol):
    embedding_model: str
    min_cosine: float  # below this cosine two texts are not alike in meaning (its scale)

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class OpenAIModel:
    """Chat Completions with structured output (`response_format` = a pydantic model)."""

    min_cosine = 0.35  # OpenAI's text-embedding-3 vectors: unrelated texts fall below it

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout: float = 20.0,
        max_retries: int = 2,
        embedding_model: str = "",
    ) -> None:
        self.name = model
        self.embedding_model = embedding_model
        self._embed_again_at = 0.0  # monotonic: a failure pauses embeddings (EMBED_PAUSE)
        self.timeout = timeout
        self.client = openai.OpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries
        )

    def parse(self, messages: list[dict[str, Any]], schema: type[T]) -> T:
        """The model's answer as `schema`, or ModelUnavailable with the reason."""
        try:
            completion = self.client.chat.completions.parse(
                model=self.name,
                messages=cast(Any, messages),  # plain dicts, in the shape the API documents
                response_format=schema,
                temperature=0.2,
            )
        except openai.APITimeoutError:
            raise ModelUnavailable(f"the model did not answer within {self.timeout:g} s") from None
        except openai.RateLimitError:
            raise ModelUnavailable("OpenAI kept answering 429 (rate limited)") from None
        except openai.APIStatusError as exc:
            raise ModelUnavailable(
                f"OpenAI answered HTTP {exc.status_code}", status=exc.status_code
            ) from None
        except openai.APIConnectionError:
            raise ModelUnavailable("could not reach the model's API") from None
        except (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError) as exc:
            raise ModelUnavailable(f"the model stopped early ({type(exc).__name__})") from None
        except ValueError as exc:  # its JSON did not match the schema
            log.warning("model.invalid_output", schema=schema.__name__, error=str(exc)[:200])
            raise ModelUnavailable("the model's answer did not match the expected form") from None
        message = completion.choices[0].message
        if message.refusal:
            raise ModelUnavailable(f"the model declined: {message.refusal[:120]}")
        if message.parsed is None:
            raise ModelUnavailable("the model's answer was empty")
        usage = completion.usage
        log.info(
            "model.answered",
            schema=schema.__name__,
            model=self.name,
            prompt_tokens=usage.prompt_tokens if usage else None,
        )
        return message.parsed

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order (`EMBEDDING_MODEL`), or ModelUnavailable."""
        if not self.embedding_model:
            raise ModelUnavailable("no embedding model is configured")
        if time.monotonic() < self._embed_again_at:  # no wait per request while it is down
            raise ModelUnavailable("embeddings failed moments ago; paused")
        try:
            return self._embed(texts)
        except ModelUnavailable:
            self._embed_again_at = time.monotonic() + EMBED_PAUSE
            raise

    def _embed(self, texts: Sequence[str]) -> list[list[float]]:
        timeout = min(self.timeout, EMBED_TIMEOUT)
        client = self.client.with_options(timeout=timeout, max_retries=1)
        vectors: list[list[float]] = []
        for start in range(0, len(texts), EMBED_BATCH):
            batch = [(t or " ")[:EMBED_CHARS] for t in texts[start : start + EMBED_BATCH]]
            try:
                answer = client.embeddings.create(
                    model=self.embedding_model, input=batch, encoding_format="float"
                )
            except openai.APITimeoutError:
                raise ModelUnavailable(f"no embeddings within {timeout:g} s") from None
            except openai.APIStatusError as exc:
                raise ModelUnavailable(
                    f"OpenAI answered HTTP {exc.status_code} to embeddings",
                    status=exc.status_code,
                ) from None
            except openai.APIConnectionError:
                raise ModelUnavailable("could not reach the embeddings API") from None
            rows = sorted(answer.data, key=lambda row: row.index)
            if len(rows) != len(batch) or any(not row.embedding for row in rows):
                raise ModelUnavailable("the embeddings API answered the wrong number of vectors")
            vectors.extend(list(row.embedding) for row in rows)
        return vectors
