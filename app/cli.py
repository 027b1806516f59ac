"""The `triage` command (SPEC §3).

Each command imports the modules that carry it out (the store, Slack, the stages, gunicorn, the
emulators) inside its function, not here: together they take over a second to import, which
`triage --help` should not wait for; and they must come after `main` has set
PROMETHEUS_MULTIPROC_DIR, read once when prometheus_client is first imported."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from app.backfill_progress import BarProgress, LineProgress
from app.cli_io import fail, message_lines, slack_failures
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


def _settings() -> Any:
    settings = get_settings()
    try:
        configure_logging(settings.log_level, settings.log_format)
    except ValueError:  # logging's "Unknown level"
        raise ConfigError(
            f"LOG_LEVEL is invalid: {settings.log_level!r}; use DEBUG, INFO, WARNING or ERROR"
        ) from None
    return settings


def _deps(settings: Any) -> Any:
    from integrations.deps import Deps

    return Deps.build(settings)


def _database(settings: Any) -> Any:
    """An engine on DATABASE_URL, once it is known to open and to be migrated."""
    from app.preflight import require_database
    from integrations.store.db import create_db_engine

    require_database(settings.database_url)
    return create_db_engine(settings.database_url)


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

    settings = _settings()
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

            deps = _deps(settings)
            return create_web(create_app(deps), deps)

    _Server().run()


@cli.command()
def socket() -> None:
    """Run the same listeners over Socket Mode (local development, no public URL)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from app.main import create_app
    from app.preflight import before_serving

    settings = _settings()
    settings.require("slack_app_token")
    settings.require_slack()
    before_serving(settings)
    deps = _deps(settings)
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
        fail(f"no such queue: {', '.join(unknown)}; use {' and '.join(ALL_QUEUES)}")
    settings = _settings()
    settings.require_bot_tokens()
    settings.require("triage_channel")
    before_serving(settings)
    metrics_folder.claim()
    try:
        run_worker(_deps(settings), queues=queues, burst=burst, health_file=health_file)
    finally:
        metrics_folder.release()


@cli.command()
def demo(
    transcript: Annotated[str, typer.Option(help="Where to write the HTML transcript.")] = (
        "demo-transcript.html"
    ),
) -> None:
    """Play three customers' Slack Connect channels end to end; needs no credentials or services."""
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
    offline: Annotated[bool, typer.Option(help="Use the offline rules even with a key.")] = False,
) -> None:
    """Dry-run triage: one message a line (or JSONL with "text"), one JSON result a line.

    SOURCE is read when it names a file (or is -); otherwise it is the message itself."""
    from integrations.deps import language_model
    from workers.triage import triage_text

    if file is not None and source != "-":
        fail("give the messages as an argument or with --file, not both")
    lines = message_lines(file or source, named_as_file=file is not None)
    settings = _settings()
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
        result, _ = triage_text(llm, text)
        typer.echo(json.dumps(result.model_dump(mode="json"), ensure_ascii=False))


@cli.command()
def report(
    since: Annotated[str, typer.Option(help="How far back: 30d, 12h, 2w, or a date.")] = "30d",
    account: Annotated[str | None, typer.Option(help="One account (name or id).")] = None,
    png: Annotated[str | None, typer.Option(help="Also write a chart to this PNG file.")] = None,
) -> None:
    """First-response times, SLA compliance, draft outcomes and feedback, per account."""
    from app.report_view import print_report, write_chart
    from integrations.store.db import session_factory, transaction
    from workers.report import NoSuchAccount, build_report, parse_since

    settings = _settings()
    try:
        start = parse_since(since)
    except ValueError as exc:
        fail(str(exc))
    engine = _database(settings)
    try:
        with transaction(session_factory(engine)) as session:
            result = build_report(session, since=start, account=account)
    except NoSuchAccount as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    print_report(result, Console())
    if png:
        try:
            written = write_chart(result, Path(png))
        except OSError as exc:
            fail(f"cannot write the chart to {png}: {exc.strerror or exc}")
        typer.echo(f"chart written to {written}")


@cli.command()
def purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be purged; change nothing.")
    ] = False,
) -> None:
    """Purge message and draft text older than RETENTION_DAYS now, keeping the numbers."""
    from integrations.store.db import session_factory
    from workers.retention import purge_expired_text

    settings = _settings()
    engine = _database(settings)
    try:
        result = purge_expired_text(
            session_factory(engine), retention_days=settings.retention_days, dry_run=dry_run
        )
    finally:
        engine.dispose()
    console = Console()
    console.print(
        f"{'Would purge' if dry_run else 'Purged'} text older than {result.cutoff:%Y-%m-%d %H:%M}"
        f" UTC (RETENTION_DAYS={result.retention_days}):"
    )
    table = Table("table", Column("rows", justify="right"))
    for name, count in result.counts.items():
        table.add_row(name, str(count))
    table.add_section()
    table.add_row("[bold]total[/]", str(result.total))
    console.print(table)


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
    from sandbox.slack_page import install_page
    from sandbox.world import TOKEN, TRIAGE, build_emulator

    emu = build_emulator(port=port, event_url=app_url, signing_secret=signing_secret)
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

    settings = _settings()
    require_database(settings.database_url, migrated=False)
    try:
        upgrade(settings.database_url, revision)
    except MigrationError as exc:
        fail(str(exc))
    typer.echo(f"database at revision {revision}")


@cli.command()
def link(
    channel: Annotated[str, typer.Argument(help="The Slack channel id (C...).")],
    account: Annotated[str, typer.Argument(help="The account's id, or its name.")],
) -> None:
    """Link a Slack channel to its account, so its cards show the account's context."""
    from app.account_links import link_channel
    from app.preflight import require_database

    if not re.fullmatch(r"[CG][A-Z0-9]{2,}", channel):
        typer.echo(f"error: {channel!r} is not a channel id (C...): see the channel's details")
        raise typer.Exit(2)
    settings = _settings()
    require_database(settings.database_url)
    deps = _deps(settings)
    try:
        outcome = link_channel(deps, channel_id=channel, query=account, actor="cli")
    finally:
        deps.close()
    typer.echo(outcome.message.replace("this channel", channel))
    raise typer.Exit(0 if outcome.linked else 1)


@cli.command()
def doctor() -> None:
    """Check the configuration and reach each service; non-zero exit if a required one fails."""
    from app.doctor import run_doctor

    settings = _settings()
    configure_logging("ERROR", settings.log_format)  # the lines below are the report
    raise typer.Exit(run_doctor(settings, typer.echo))


@cli.command()
def backfill(
    days: Annotated[float, typer.Option(help="How many days of history to read.")] = 90,
    channel: Annotated[
        str | None, typer.Option(help="One channel id (C...); default: every shared channel.")
    ] = None,
) -> None:
    """Learn who answers what from the shared channels' history (resumable, idempotent)."""
    from app.preflight import require_database
    from workers.backfill import backfill as run_backfill

    settings = _settings()
    settings.require_bot_tokens()
    require_database(settings.database_url)
    deps = _deps(settings)
    with slack_failures("the channels' history"), closing(deps):
        if sys.stdout.isatty():
            columns = (
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[messages]} messages", style="dim"),
                TimeElapsedColumn(),
            )
            with Progress(*columns) as bar:
                report = run_backfill(deps, days=days, channel=channel, progress=BarProgress(bar))
        else:
            progress = LineProgress(typer.echo)
            report = run_backfill(deps, days=days, channel=channel, progress=progress)
    typer.echo(
        f"backfill: {report.channels} channels, {report.threads} threads, "
        f"{report.messages} messages, {report.learned} answers learned in {report.seconds:.1f}s"
    )
    if report.skipped:
        typer.echo(f"backfill: skipped (the bot cannot read them): {', '.join(report.skipped)}")


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
