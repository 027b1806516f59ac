"""The `triage` commands that read and change the records: `report`, `gaps`, `purge`, `link`
and `backfill` (registered on the `triage` app in app/cli.py). As there, each imports the modules
that carry it out inside its function, so `triage --help` stays fast and they load after
PROMETHEUS_MULTIPROC_DIR is set."""

from __future__ import annotations

import re
import sys
from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from app.backfill_progress import BarProgress, LineProgress
from app.cli_io import build_deps, command_settings, fail, open_database, slack_failures


def report(
    since: Annotated[str, typer.Option(help="How far back: 30d, 12h, 2w, or a date.")] = "30d",
    account: Annotated[str | None, typer.Option(help="One account (name or id).")] = None,
    png: Annotated[str | None, typer.Option(help="Also write a chart to this PNG file.")] = None,
) -> None:
    """First-response times, SLA compliance, draft outcomes and feedback, per account; then
    the period's incidents: the reports they absorbed and the time to their first update."""
    from app.report_view import print_report, write_chart
    from integrations.store.db import session_factory, transaction
    from workers.report import NoSuchAccount, build_report, parse_since

    settings = command_settings()
    try:
        start = parse_since(since)
    except ValueError as exc:
        fail(str(exc))
    engine = open_database(settings)
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


def gaps(
    since: Annotated[str, typer.Option(help="How far back: 30d, 12h, 2w, or a date.")] = "30d",
    out: Annotated[
        Path, typer.Option(help="Folder for the proposed articles (never KNOWLEDGE_DIR).")
    ] = Path("knowledge-gaps"),
) -> None:
    """Requests our knowledge did not answer well (no grounding, rejected, heavily edited),
    grouped by what they ask, largest first; a proposed article per group, for review."""
    from app.gaps_view import print_gaps
    from integrations.deps import language_model
    from integrations.store.db import session_factory, transaction
    from workers.gap_articles import InsideKnowledgeDir, write_articles
    from workers.gaps import find_gaps
    from workers.report import parse_since

    settings = command_settings()
    try:
        start = parse_since(since)
    except ValueError as exc:
        fail(str(exc))
    engine = open_database(settings)
    try:
        with transaction(session_factory(engine)) as session:
            found = find_gaps(session, since=start)
    finally:
        engine.dispose()
    try:
        written = write_articles(
            found, out, knowledge_dir=settings.knowledge_dir, llm=language_model(settings)
        )
    except InsideKnowledgeDir as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write the articles to {out}: {exc.strerror or exc}")
    print_gaps(found, written, out, Console(), retention_days=settings.retention_days)


def purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be purged; change nothing.")
    ] = False,
) -> None:
    """Purge message and draft text older than RETENTION_DAYS now, keeping the numbers."""
    from integrations.store.db import session_factory
    from workers.retention import purge_expired_text

    settings = command_settings()
    engine = open_database(settings)
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
    settings = command_settings()
    require_database(settings.database_url)
    deps = build_deps(settings)
    try:
        outcome = link_channel(deps, channel_id=channel, query=account, actor="cli")
    finally:
        deps.close()
    typer.echo(outcome.message.replace("this channel", channel))
    raise typer.Exit(0 if outcome.linked else 1)


def backfill(
    days: Annotated[float, typer.Option(help="How many days of history to read.")] = 90,
    channel: Annotated[
        str | None, typer.Option(help="One channel id (C...); default: every shared channel.")
    ] = None,
) -> None:
    """Learn who answers what from the shared channels' history (resumable, idempotent)."""
    from app.preflight import require_database
    from workers.backfill import backfill as run_backfill

    settings = command_settings()
    settings.require_bot_tokens()
    require_database(settings.database_url)
    deps = build_deps(settings)
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
