"""A small world for end-to-end tests: the Slack emulator, the real app over HTTP, workers.

Everything goes through real wire formats: events are signed and POSTed to `/slack/events`
exactly as Slack sends them; the app talks to the emulator through the real slack_sdk client.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redis import Redis
from rq import Queue
from werkzeug.serving import make_server

from app.main import create_app
from app.web import create_web
from integrations.deps import Deps
from integrations.queues import ALL_QUEUES
from integrations.settings import Settings, load_settings
from sandbox.slack_emulator import SlackEmulator
from sandbox.slack_events import deliver, message_envelope
from sandbox.slack_interactivity import block_actions_body, view_submission_body
from sandbox.world import (  # noqa: F401  (re-exported for the tests)
    APPROVER,
    APPROVER_2,
    BOT_USER,
    CUSTOMER,
    CUSTOMER_TEAM,
    INITECH,
    INITECH_TEAM,
    INITECH_USER,
    INTERNAL,
    ORG,
    OUTSIDER,
    SHARED,
    TOKEN,
    TRIAGE,
    build_emulator,
)
from workers.process import ThreadWorker

SECRET = "test-signing-secret"
REPO = Path(__file__).resolve().parent.parent


@dataclass
class World:
    emu: SlackEmulator
    settings: Settings
    deps: Deps
    url: str
    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    # --- what people do in Slack -------------------------------------------------------------
    def customer_says(
        self,
        text: str,
        *,
        user: str = CUSTOMER,
        channel: str = SHARED,
        thread_ts: str | None = None,
        retry_num: int | None = None,
        team: str = CUSTOMER_TEAM,
        shared: bool = True,
        files: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Post as a person in the emulator and deliver the event; returns the envelope.

        `files`: see `SlackEmulator.post_as_user` (with `content`, Slack serves the bytes)."""
        message = self.emu.post_as_user(channel, user, text, thread_ts=thread_ts, files=files)
        body = self.envelope(message, channel=channel, team=team, shared=shared)
        status, _ = self.send(body, retry_num=retry_num)
        assert status == 200, status
        return body

    def initech_says(self, text: str) -> dict[str, Any]:
        """Peter, of a second customer (Initech), posts in Initech's shared channel."""
        return self.customer_says(text, user=INITECH_USER, team=INITECH_TEAM, channel=INITECH)

    def envelope(
        self,
        message: dict[str, Any],
        *,
        channel: str = SHARED,
        team: str = CUSTOMER_TEAM,
        shared: bool = True,
    ) -> dict[str, Any]:
        return message_envelope(
            message,
            channel=channel,
            installed_team_id=ORG,
            bot_user_id=BOT_USER,
            is_ext_shared_channel=shared,
            author_team_id=team,
        )

    def send(
        self, body: dict[str, Any] | bytes, *, retry_num: int | None = None, **kwargs: Any
    ) -> tuple[int, bytes]:
        return deliver(f"{self.url}/slack/events", body, SECRET, retry_num=retry_num, **kwargs)

    def click(
        self, action_id: str, card: dict[str, Any], *, user: str = APPROVER, team: str = ORG
    ) -> tuple[int, bytes]:
        body = block_actions_body(
            user_id=user,
            user_team_id=team,
            team_id=team,
            channel_id=TRIAGE,
            message_ts=card["ts"],
            message=card,
            action_id=action_id,
            response_url=self.emu.response_url(f"click-{time.time_ns()}"),
        )
        return self.send(body)

    def submit_view(
        self,
        view: dict[str, Any],
        values: dict[str, dict[str, Any]],
        *,
        user: str = APPROVER,
        team: str = ORG,
    ) -> tuple[int, bytes]:
        body = view_submission_body(
            user_id=user,
            user_team_id=team,
            team_id=team,
            view=view,
            values=values,
            app_installed_team_id=ORG,
        )
        return self.send(body)

    # --- what the app did ----------------------------------------------------------------------
    def cards(self) -> list[dict[str, Any]]:
        return [m for m in self.emu.messages(TRIAGE) if m.get("bot_id")]

    def replies_in(self, thread_ts: str, channel: str = SHARED) -> list[dict[str, Any]]:
        thread = self.emu.messages(channel, thread_ts=thread_ts)
        return [m for m in thread if m.get("bot_id") and m["ts"] != thread_ts]

    # --- running the workers -------------------------------------------------------------------
    def drain(self) -> None:
        """Run every queued job in this process until the queues are empty."""
        self.deps.queues.wait_handed_off()  # the listener queues its jobs from a thread
        connection = Redis.from_url(self.settings.redis_url)
        queues = [Queue(name, connection=connection) for name in ALL_QUEUES]
        # Without RQ's command channel: its thread is joined when the worker stops, which
        # added up to a second to a drain (and to the time to card bench/history.py measures)
        ThreadWorker(queues, connection=connection, deps=self.deps).work(
            burst=True, logging_level="WARNING"
        )
        connection.close()

    def start_worker(self, log_name: str = "worker") -> subprocess.Popen[bytes]:
        """`triage worker` as a real separate process."""
        log = open(Path(self.env["TRIAGE_TEST_LOG_DIR"]) / f"{log_name}.log", "ab")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-c", "from app.cli import main; main()", "worker"],
            env=self.env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # RQ's scheduler is a forked child: kill them as a group
        )
        self.processes.append(process)
        return process

    def wait_warmed_up(self, log_name: str = "worker", timeout: float = 60) -> None:
        """Until the worker started as `log_name` has loaded its models and takes jobs, for
        tests whose clocks must not count a slow start."""
        log = Path(self.env["TRIAGE_TEST_LOG_DIR"]) / f"{log_name}.log"
        wait_for(lambda: "worker.warmed_up" in log.read_text(errors="replace"), timeout=timeout)


def children(pid: int) -> list[int]:
    """The processes `pid` forked that still run (RQ's scheduler, for a worker)."""
    return [
        int(child)
        for path in Path(f"/proc/{pid}/task").glob("*/children")
        for child in path.read_text().split()
    ]


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL a process and, when it leads its own group, the children it forked (RQ's
    scheduler outlives its parent)."""
    with contextlib.suppress(ProcessLookupError):
        if os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    process.wait(timeout=10)


def triage_cli(
    *args: str,
    env: dict[str, str] | None = None,
    input: str | None = None,
    cwd: Path = REPO,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`triage ARGS` as a separate process, as the installed command runs it (`env` None: this
    process's environment); its output as text."""
    return subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", *args],
        env=env,
        input=input,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def python_script(script: str, *args: str, timeout: float = 120) -> str:
    """`script` run by this Python in a process of its own (what a test must not do to its
    own process: load, fork, switch off), from the repository; its output, once it succeeded."""
    run = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert run.returncode == 0, run.stdout + run.stderr[-2000:]
    return run.stdout


class LocalServer:
    """A TCP server on a free local port, accepting in a thread of its own: each connection
    goes to `handle` (in that thread) until `close`."""

    def __init__(self, backlog: int = 8) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(backlog)
        self.port = int(self._listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:  # closed
                return
            self.handle(connection)

    def handle(self, connection: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._listener.close()


def free_port() -> int:
    """A TCP port nobody listens on right now (tests never use fixed ports)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float = 15, interval: float = 0.1) -> Any:
    """Poll until `predicate()` is truthy; fail with a clear message after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


@contextmanager
def offline_deps(folder: Path, **slack: Any) -> Iterator[Deps]:
    """Deps to build the app with, never to serve it: SQLite in `folder`, and a Redis URL where
    nothing listens, so nothing is sent; `slack`: the Slack settings (a token, or OAuth's)."""
    settings = load_settings(
        _env_file=None,
        slack_signing_secret=SECRET,
        database_url=f"sqlite:///{folder / 'triage.db'}",
        redis_url="redis://127.0.0.1:1/0",
        **slack,
    )
    deps = Deps.build(settings)
    try:
        yield deps
    finally:
        deps.close()


@contextmanager
def start_world(*, database_url: str, redis_url: str, **overrides: Any) -> Iterator[World]:
    emu = build_emulator()
    emu.start()
    values: dict[str, Any] = dict(
        slack_bot_token=TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=emu.api_url,
        database_url=database_url,
        redis_url=redis_url,
        triage_channel=TRIAGE,
        lease_seconds=3,
        sweep_seconds=1,
        log_format="json",
    )
    values.update(overrides)
    settings = load_settings(_env_file=None, **values)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TRIAGE_"))}
    env.update({k.upper(): str(v) for k, v in values.items()})
    env["TRIAGE_TEST_LOG_DIR"] = os.environ.get("TRIAGE_TEST_LOG_DIR", "/tmp")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    deps = Deps.build(settings)
    web = create_web(create_app(deps), deps)
    server = make_server("127.0.0.1", 0, web, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    world = World(
        emu=emu, settings=settings, deps=deps, url=f"http://127.0.0.1:{server.server_port}", env=env
    )
    try:
        yield world
        # Every Web API call the app made exists in Slack's published spec with those
        # arguments (or in sandbox/slack_spec.py's short, documented list of newer ones).
        assert emu.spec_violations == [], emu.spec_violations
    finally:
        for process in world.processes:
            kill_group(process)
        server.shutdown()
        deps.close()
        emu.stop()


def model_world(
    database_url: str, redis_url: str, model_url: str, **overrides: Any
) -> AbstractContextManager[World]:
    """`start_world` drafting with a model: the local OpenAI server at `model_url`."""
    values: dict[str, Any] = dict(
        openai_api_key="sk-test-not-a-real-key",
        openai_base_url=model_url,
        openai_timeout_seconds=2,
        openai_max_retries=0,
    )
    values.update(overrides)
    return start_world(database_url=database_url, redis_url=redis_url, **values)
