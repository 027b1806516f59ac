"""What the `triage` command reads from a person, and how it fails in front of them: one line
naming the problem and the fix, exit code 2, never a traceback (SPEC §3)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import typer
from slack_sdk.errors import SlackApiError

from app.logs import configure_logging
from integrations.settings import ConfigError, get_settings
from integrations.slack import slack_error

# A lone word ending like this is a file someone meant, not a message (`triage classify x.txt`).
_FILE_SUFFIXES = (".txt", ".jsonl", ".json", ".csv", ".tsv", ".log")


def fail(message: str) -> NoReturn:
    """A person's mistake (a bad argument, a name that does not exist): one line, exit 2."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@contextmanager
def slack_failures(doing: str) -> Iterator[None]:
    """Slack unreachable or refusing (a wrong token or SLACK_API_URL) is one line, not a
    traceback: what failed, why, and where to look."""
    try:
        yield
    except SlackApiError as exc:
        fail(f"Slack refused {doing}: {slack_error(exc)}; `triage doctor` checks the settings")
    except OSError as exc:  # urllib's URLError: a refused or timed out connection
        reason = getattr(exc, "reason", None) or exc
        fail(f"cannot reach Slack for {doing}: {reason}; `triage doctor` checks the settings")


def message_lines(source: str, *, named_as_file: bool) -> Iterable[str]:
    """What `triage classify` reads: standard input for -, the lines of the file `source`
    names, else `source` itself as one message. A name that is no file is an error when it
    came with --file, or when it looks like a path (`./x`, `messages.jsonl`) rather than words."""
    if source == "-":
        return sys.stdin
    path = Path(source)
    if path.is_file():
        try:
            return path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            fail(f'{source} is not UTF-8 text: one message a line, or JSONL with "text"')
        except OSError as exc:
            fail(f"cannot read {source}: {exc.strerror}")
    one_word = len(source.split()) == 1 and "://" not in source
    looks_like_a_path = one_word and (
        source.startswith(("/", "./", "../", "~/")) or path.suffix.lower() in _FILE_SUFFIXES
    )
    if named_as_file or looks_like_a_path:
        fail(f"not a file: {source}" if path.exists() else f"no such file: {source}")
    return [source]


def command_settings() -> Any:
    """Settings for a command, with logging configured as they say."""
    settings = get_settings()
    try:
        configure_logging(settings.log_level, settings.log_format)
    except ValueError:  # logging's "Unknown level"
        raise ConfigError(
            f"LOG_LEVEL is invalid: {settings.log_level!r}; use DEBUG, INFO, WARNING or ERROR"
        ) from None
    return settings


def build_deps(settings: Any) -> Any:
    from integrations.deps import Deps

    return Deps.build(settings)


def open_database(settings: Any) -> Any:
    """An engine on DATABASE_URL, once it is known to open and to be migrated."""
    from app.preflight import require_database
    from integrations.store.db import create_db_engine

    require_database(settings.database_url)
    return create_db_engine(settings.database_url)
