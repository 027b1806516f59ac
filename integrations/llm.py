"""The language model, behind one small interface: structured output or a reason it failed.

Uses the openai client's own bounded retries (which honour `Retry-After` on 429) and timeout,
and its structured-output `parse`, so the answer is a validated pydantic model or an error.
Works with any OpenAI-compatible endpoint (`OPENAI_BASE_URL`), such as `sandbox/openai_server.py`.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar, cast

import openai
import structlog
from pydantic import BaseModel

log = structlog.get_logger(__name__)
T = TypeVar("T", bound=BaseModel)


class ModelUnavailable(Exception):
    """The model gave no usable answer; `str(exc)` says why, in words for the card, and
    `status` is the API's HTTP status when it answered with an error."""

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


class LanguageModel(Protocol):
    name: str

    def parse(self, messages: list[dict[str, Any]], schema: type[T]) -> T: ...


class OpenAIModel:
    """Chat Completions with structured output (`response_format` = a pydantic model)."""

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout: float = 20.0,
        max_retries: int = 2,
    ) -> None:
        self.name = model
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
