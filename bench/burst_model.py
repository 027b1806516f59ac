"""The local OpenAI server of bench/burst.py, in a process of its own, warmed up.

OpenAI answers from other machines, at once from the first call. The local server answers by
the app's own offline classifier (`default_responder`), which it loaded at the burst's first
completion, in the benchmark's process beside the Slack emulator serving the burst: measured at
F=5, the first thirty answers reached the workers 1.7-5.7 s after their 1.5 s were up
(bench/RESULTS.md, "Outage morning", session 9), time the benchmark counted as the app's. Here
it loads before the burst, in a process of its own, and reads words only (no sentence
encoder: thirty answers due at once each waited for the others' encodings on a busy CPU).
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import time
from pathlib import Path
from typing import Any

from integrations.local_embeddings import use_encoder
from sandbox.openai_server import OpenAIServer, default_responder


def _serve(latency: float, answers: str, ready: Any) -> None:
    def responder(schema: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = default_responder(schema, body)
        with open(answers, "a", encoding="utf-8") as out:
            out.write(json.dumps([time.time(), schema]) + "\n")
        return answer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # as in bench/burst.py's process
    use_encoder(False)  # its answers by words alone: a few ms each, as OpenAI's come back
    default_responder("TriageResult", {"messages": [{"role": "user", "content": "warm up"}]})
    server = OpenAIServer(responder, latency=latency)
    server.start()
    ready.put(server.base_url)
    while True:  # until terminated
        time.sleep(3600)


class ModelProcess:
    """The local OpenAI server (completions after `latency` seconds, and embeddings) in a
    child process; `answers` are (when answered, schema) of each completion since `clear`."""

    def __init__(self, latency: float, workdir: Path) -> None:
        self.latency = latency
        self.path = workdir / "model-answers.jsonl"
        self.base_url = ""
        self._process: Any = None

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")  # not a fork of this threaded process
        ready = context.Queue()
        self._process = context.Process(
            target=_serve, args=(self.latency, str(self.path), ready), daemon=True
        )
        self._process.start()
        self.base_url = ready.get(timeout=60)

    def clear(self) -> None:
        self.path.write_text("", encoding="utf-8")

    def answers(self) -> list[tuple[float, str]]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [(float(at), str(schema)) for at, schema in map(json.loads, lines)]

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.join(timeout=10)
