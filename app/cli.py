"""The `triage` command (SPEC §3).

Each command imports the modules that carry it out (the store, Slack, the stages, gunicorn, the
emulators) inside its function, not here: together they take over a second to import, which
`triage --help` should not wait for; and they must come after `main` has set
PROMETHEUS_MULTIPROC_DIR, read once when prometheus_client is first imported."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from app.cli_io import build_deps, command_settings, fail, message_lines, slack_failures
from app.cli_records import backfill, gaps, link, purge, report
from app.logs import configure_logging
from integrations.settings import ConfigError, get_settings

cli = typer.Typer(
    help="Slack Connect support triage assistant.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_cli = typer.Typer(help="Database migrations.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")


@cli.command()
def serve(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 3000,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "0.0.0.0",
    workers: Annotated[int, typer.Option(help="Gunicorn worker processes.")] = 2,
    threads: Annotated[int, typer.Option(help="Threads per worker process.")] = 8,
) -> None:
    """Serve Slack's requests over HTTP: /slack/events, /healthz, /metrics."""
    from gunicorn.app.base import BaseApplication

    from app.preflight import before_serving
    from workers import metrics_folder

    settings = command_settings()
    settings.require_slack()
    before_serving(settings)
    metrics_folder.claim()  # a new run empties the folder; a live worker's counters stay

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("timeout", 30)
            self.cfg.set("accesslog", None)
            self.cfg.set("child_exit", lambda _server, child: metrics_folder.mark_dead(child.pid))
            self.cfg.set("on_exit", lambda _server: metrics_folder.release())

        def load(self) -> Any:  # runs in each worker process, after the fork
            from app.main import create_app
            from app.web import create_web

            deps = build_deps(settings)
            return create_web(create_app(deps), deps)

    _Server().run()


@cli.command()
def socket() -> None:
    """Run the same listeners over Socket Mode (local development, no public URL)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from app.main import create_app
    from app.preflight import before_serving

    settings = command_settings()
    settings.require("slack_app_token")
    settings.require_slack()
    before_serving(settings)
    deps = build_deps(settings)
    with slack_failures("Socket Mode"):
        SocketModeHandler(create_app(deps), settings.slack_app_token.get_secret_value()).start()


@cli.command()
def worker(
    queues: Annotated[list[str] | None, typer.Option("--queues", help="Queues to work.")] = None,
    burst: Annotated[bool, typer.Option(help="Exit when the queues are empty.")] = False,
    health_file: Annotated[
        Path | None,
        typer.Option(help="Touch this file after every sweep that reached the DB and Redis."),
    ] = None,
) -> None:
    """Run an RQ worker (with the scheduler, the lease heartbeat and the sweeper)."""
    from app.preflight import before_serving
    from integrations.queues import ALL_QUEUES
    from workers import metrics_folder
    from workers.process import run_worker

    unknown = sorted(set(queues or ()) - set(ALL_QUEUES))
    if unknown:
        names = f"{', '.join(ALL_QUEUES[:-1])} and {ALL_QUEUES[-1]}"
        fail(f"no such queue: {', '.join(unknown)}; use {names}")
    settings = command_settings()
    settings.require_bot_tokens()
    settings.require("triage_channel")
    before_serving(settings)
    metrics_folder.claim()
    try:
        run_worker(build_deps(settings), queues=queues, burst=burst, health_file=health_file)
    finally:
        metrics_folder.release()


@cli.command()
def demo(
    transcript: Annotated[str, typer.Option(help="Where to write the HTML transcript.")] = (
        "demo-transcript.html"
    ),
) -> None:
    """Play five customers' Slack Connect channels end to end; needs no credentials or services."""
    from app.demo import run_demo

    if not Path(transcript).resolve().parent.is_dir():  # found now, not after the whole demo
        fail(f"cannot write the transcript to {transcript}: no such folder")
    configure_logging("ERROR", "console")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the demo's local server
    raise typer.Exit(run_demo(transcript=Path(transcript)))


@cli.command()
def classify(
    source: Annotated[
        str,
        typer.Argument(help="A file of messages, - for standard input, or a message's words."),
    ] = "-",
    file: Annotated[
        str | None, typer.Option("--file", "-f", help="Read the messages from this file.")
    ] = None,
    offline: Annotated[
        bool, typer.Option(help="Use the offline classifier even with a key.")
    ] = False,
    train: Annotated[
        str | None,
        typer.Option(
            "--train",
            help="Retrain the offline classifier on this labelled JSONL file instead "
            "(text, category, urgency a line) and write the model.",
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="The offline model file to write (--train) or use; default: the one the "
            "package ships and loads.",
        ),
    ] = None,
) -> None:
    """Dry-run triage: one message a line (or JSONL with "text"), one JSON result a line.

    SOURCE is read when it names a file (or is -); otherwise it is the message itself.
    With --train FILE, retrains the offline classifier instead and says where it wrote it."""
    from integrations.deps import language_model
    from workers.triage import triage_text
    from workers.triage_model import PACKAGED_MODEL, load_model

    if train is not None:
        _train_offline(Path(train), Path(model) if model else PACKAGED_MODEL)
        return
    try:
        chosen = load_model(Path(model)) if model else None
    except ValueError as exc:
        fail(str(exc))
    if file is not None and source != "-":
        fail("give the messages as an argument or with --file, not both")
    lines = message_lines(file or source, named_as_file=file is not None)
    settings = command_settings()
    llm = None if offline else language_model(settings)
    for number, line in enumerate(lines, 1):
        text = line.rstrip("\n")
        if not text.strip():
            continue
        if text.lstrip().startswith("{"):
            try:
                text = str(json.loads(text)["text"])
            except (ValueError, KeyError, TypeError):
                fail(f'line {number} is not JSON with a "text" field')
        result, _ = triage_text(llm, text, chosen.classify if chosen else None)
        typer.echo(json.dumps(result.model_dump(mode="json"), ensure_ascii=False))


def _train_offline(data: Path, out: Path) -> None:
    """`triage classify --train`: train on a labelled file, write the model, say where."""
    from workers.triage_training import read_rows, train

    try:
        rows = read_rows(data)
        model = train(rows, source=data.name)
        model.save(out)
    except (OSError, ValueError) as exc:
        fail(str(exc))
    typer.echo(
        f"trained the offline classifier on {len(rows)} messages of {data} "
        f"({model.meta['features']} features); wrote {out}"
    )


@cli.command()
def sandbox(
    port: Annotated[int, typer.Option(help="Port for the emulator.")] = 8999,
    app_url: Annotated[
        str, typer.Option(help="Where to deliver events (the app's /slack/events).")
    ] = "http://127.0.0.1:3000/slack/events",
    signing_secret: Annotated[str, typer.Option(help="The secret the app verifies with.")] = (
        "sandbox-signing-secret"
    ),
    oauth: Annotated[
        bool, typer.Option(help="Act as Slack's OAuth too: try /slack/install by hand.")
    ] = False,
) -> None:
    """Run the local Slack emulator (a developer tool) with a page to post as customers."""
    from sandbox import slack_limits
    from sandbox.slack_page import install_page
    from sandbox.world import TOKEN, TRIAGE, build_emulator

    try:
        limits = slack_limits.from_env()  # SLACK_EMULATOR_LIMITS: Slack's 429s, F times faster
    except ValueError as exc:
        fail(str(exc))
    emu = build_emulator(port=port, event_url=app_url, signing_secret=signing_secret, limits=limits)
    with emu:
        page = install_page(emu)
        if oauth:
            server = emu.enable_oauth("sandbox-client-id", "sandbox-client-secret")
            app_root = app_url.rsplit("/slack/", 1)[0]
            server.redirect_uri = f"{app_root}/slack/oauth_redirect"  # the app's Redirect URL
            token = "SLACK_CLIENT_ID=sandbox-client-id SLACK_CLIENT_SECRET=sandbox-client-secret"
            then = f"; then open {app_root}/slack/install and pick Acme"
        else:
            token, then = f"SLACK_BOT_TOKEN={TOKEN}", ""
        if limits is not None:  # the app's call budget at the emulator's pace
            token += f" SLACK_RATE_SCALE={limits:g}"
        typer.echo(
            f"Slack emulator at {emu.base_url}; post as customers at {page}\n"
            f"Point the app at it (then run `triage serve` and `triage worker`{then}):\n"
            f"  export SLACK_API_URL={emu.api_url} {token} "
            f"SLACK_SIGNING_SECRET={signing_secret} TRIAGE_CHANNEL={TRIAGE}"
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return


@db_cli.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply database migrations (Alembic) to DATABASE_URL."""
    from app.preflight import require_database
    from integrations.store.db import MigrationError, upgrade

    settings = command_settings()
    require_database(settings.database_url, migrated=False)
    try:
        upgrade(settings.database_url, revision)
    except MigrationError as exc:
        fail(str(exc))
    typer.echo(f"database at revision {revision}")


@cli.command()
def doctor() -> None:
    """Check the configuration and reach each service; non-zero exit if a required one fails."""
    from app.doctor import run_doctor

    settings = command_settings()
    configure_logging("ERROR", settings.log_format)  # the lines below are the report
    raise typer.Exit(run_doctor(settings, typer.echo))


for _command in (report, gaps, purge, link, backfill):  # app/cli_records.py
    cli.command()(_command)


def _share_metrics() -> None:
    """Counters are shared by the web and worker processes through the deployment's own folder
    (SPEC §8; workers/metrics_folder.py): METRICS_DIR, else PROMETHEUS_MULTIPROC_DIR when set
    (compatibility), else `Settings.metrics_folder`. Set before prometheus_client is imported,
    which reads it once. Settings that do not load leave it unset: the command reports them."""
    try:
        settings = get_settings()
    except ConfigError:
        return
    folder = settings.metrics_dir or os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    folder = folder or settings.metrics_folder()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"METRICS_DIR is invalid: cannot create {folder}: {exc}") from None
    from workers.metrics_folder import use_identity

    use_identity()


def main() -> None:
    """Entry point: settings errors become one line and exit code 2, never a traceback."""
    try:
        _share_metrics()
        cli()
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
