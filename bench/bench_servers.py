"""The two servers `bench/ingest.py` compares, each run in its own process under gunicorn.

*ours* is the real app (`create_web(create_app(deps), deps)`, as `triage serve` builds it);
*bare* is a `slack_bolt.App` whose one `message` listener does nothing, behind Flask the same
way. `python bench/bench_servers.py --serve ours|bare --port P ...` is the child mode.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `tests.harness` and `sandbox` are not installed packages
    sys.path.insert(0, str(REPO))

APPS = ("bare", "ours")
SECRET = "bench-signing-secret"  # both apps verify signatures with it


def build_ours(api_url: str, database_url: str, redis_url: str) -> Any:
    """The real app, built as `triage serve` builds it in each worker."""
    from app.main import create_app
    from app.web import create_web
    from integrations.deps import Deps
    from integrations.settings import load_settings
    from sandbox.world import TOKEN, TRIAGE

    settings = load_settings(
        _env_file=None,
        slack_bot_token=TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=api_url,
        database_url=database_url,
        redis_url=redis_url,
        triage_channel=TRIAGE,
        grouping_minutes=0,
        log_format="json",
    )
    deps = Deps.build(settings)
    return create_web(create_app(deps), deps)


def build_bare(api_url: str) -> Any:
    """A Bolt app that only acks `message` events, behind Flask like ours."""
    from flask import Flask, request
    from slack_bolt import App
    from slack_bolt.adapter.flask import SlackRequestHandler
    from slack_sdk import WebClient

    from sandbox.world import TOKEN

    # Bolt calls auth.test on the first request: the client points at the emulator, not Slack.
    bolt = App(
        signing_secret=SECRET,
        token=TOKEN,
        token_verification_enabled=False,
        process_before_response=True,
        client=WebClient(token=TOKEN, base_url=api_url),
    )

    @bolt.event("message")
    def on_message() -> None:
        """Nothing: the ack is the whole job."""

    handler = SlackRequestHandler(bolt)
    web = Flask("bare")
    web.post("/slack/events")(lambda: handler.handle(request))
    return web


def serve(args: argparse.Namespace) -> None:
    """Child mode: serve one app under gunicorn, configured as `triage serve` is."""
    from gunicorn.app.base import BaseApplication

    from app.logs import configure_logging

    configure_logging("INFO", "json")  # what `triage serve` does when stderr is not a terminal

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in (
                ("bind", f"127.0.0.1:{args.port}"),
                ("workers", args.workers),
                ("threads", args.threads),
                ("worker_class", "gthread"),
                ("timeout", 30),
                ("accesslog", None),
            ):
                self.cfg.set(key, value)

        def load(self) -> Any:  # in each worker, after the fork
            if args.serve == "ours":
                return build_ours(args.api_url, args.database_url, args.redis_url)
            return build_bare(args.api_url)

    _Server().run()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    name: str, args: argparse.Namespace, api_url: str, database_url: str, workdir: Path
) -> tuple[subprocess.Popen[bytes], int]:
    """Start `--serve NAME` in a subprocess (output to a log file) and wait until it answers."""
    port = free_port()
    (workdir / f"metrics-{name}").mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(workdir / f"metrics-{name}")}
    command = [
        sys.executable,
        __file__,
        "--serve",
        name,
        "--port",
        str(port),
        "--workers",
        str(args.workers),
        "--threads",
        str(args.threads),
        "--api-url",
        api_url,
        "--database-url",
        database_url,
        "--redis-url",
        args.redis_url,
    ]
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=out)
    # Ready: ours answers GET /healthz with 200; bare answers an unsigned POST with 401.
    ours = name == "ours"
    method, path, ready = ("GET", "/healthz", 200) if ours else ("POST", "/slack/events", 401)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request(method, path, body=b"{}" if method == "POST" else None)
            if conn.getresponse().status == ready:
                return process, port
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    stop_server(process)
    raise SystemExit(
        f"{name} did not become ready; its log ends with:\n"
        f"{log.read_text(errors='replace')[-2000:]}"
    )


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()  # gunicorn stops gracefully on SIGTERM
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve one app for bench/ingest.py.")
    parser.add_argument("--serve", choices=APPS, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--database-url")
    parser.add_argument("--redis-url")
    serve(parser.parse_args())


if __name__ == "__main__":
    main()
