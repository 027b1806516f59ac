"""Which Slack token a call uses: the one bot token, or the installation of the workspace at hand.

A single-workspace install has one `SLACK_BOT_TOKEN` and every call uses it. An OAuth install
(`SLACK_CLIENT_ID` + `SLACK_CLIENT_SECRET`) keeps one installation per workspace, or one per
Enterprise Grid organisation for an org-wide install, in slack_sdk's SQLAlchemy store:

- a customer's channel is answered with the token of the workspace the event came from
  (`for_team`), so a second workspace's customers are answered by its own bot;
- the triage and escalation channels live in the *home* installation (`home`):
  `SLACK_HOME_TEAM`, or else the first workspace that installed the app;
- tokens with an expiry (token rotation) are refreshed before they expire, under a Redis lock
  so two processes do not both spend the refresh token, and saved back to the store.

One deployment serves one organisation: `SLACK_INSTALL_TEAMS` (or, when empty, the first
installation) decides who may install, so a stranger with the install link cannot route their
workspace's messages into this organisation's triage channel.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import structlog
from redis import Redis
from redis.exceptions import RedisError
from slack_sdk import WebClient
from slack_sdk.errors import SlackTokenRotationError
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.token_rotation import TokenRotator
from sqlalchemy import select

from integrations.slack import build_web_client
from integrations.slack_budget import SlackBudget

log = structlog.get_logger(__name__)

CACHE_SECONDS = 60.0  # a reinstall or a rotation elsewhere is seen within this long


class NotInstalled(LookupError):
    """No installation holds a token for this workspace or organisation."""


class SlackClients(Protocol):
    """The clients a process talks to Slack with."""

    def home(self) -> WebClient:
        """The installation holding TRIAGE_CHANNEL and ESCALATION_CHANNEL."""
        ...

    def for_team(self, team_id: str | None, enterprise_id: str | None) -> WebClient:
        """The installation of the workspace (or Grid organisation) an event came from."""
        ...

    def each(self) -> Iterator[WebClient]:
        """One client per installation: for reading every workspace's shared channels."""
        ...

    def organisation(self) -> frozenset[str]:
        """Every installed workspace and Grid organisation id (OAuth); empty for one token."""
        ...


class SingleToken:
    """`SLACK_BOT_TOKEN`: one workspace, one client for everything."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def home(self) -> WebClient:
        return self.client

    def for_team(self, team_id: str | None, enterprise_id: str | None) -> WebClient:
        return self.client

    def each(self) -> Iterator[WebClient]:
        yield self.client

    def organisation(self) -> frozenset[str]:
        return frozenset()  # auth.test's team and enterprise say it all


@dataclass(frozen=True)
class _Cached:
    bot: Bot
    read_at: float


class InstalledTokens:
    """OAuth installs: the bot token of each workspace, from the installation store."""

    def __init__(
        self,
        store: SQLAlchemyInstallationStore,
        *,
        api_url: str,
        client_secret: str,
        home_team: str | None = None,
        rotation_minutes: int = 120,
        redis: Redis | None = None,
        budget: SlackBudget | None = None,
        timeout: int = 10,
    ) -> None:
        self.store = store
        self.budget = budget
        self.timeout = timeout
        self.api_url = api_url
        self.home_team = home_team
        self.rotation_minutes = rotation_minutes
        self.redis = redis
        self.rotator = TokenRotator(
            client_id=store.client_id,
            client_secret=client_secret,
            client=build_web_client(None, api_url),
        )
        self._cache: dict[tuple[str | None, str | None], _Cached] = {}
        self._clients: dict[str, WebClient] = {}
        self._home: tuple[tuple[str | None, str | None] | None, float] = (None, 0.0)
        self._organisation: tuple[frozenset[str], float] = (frozenset(), -CACHE_SECONDS)
        self._lock = threading.Lock()

    # -- the SlackClients interface ------------------------------------------------------

    def home(self) -> WebClient:
        return self._client(self.home_bot())

    def for_team(self, team_id: str | None, enterprise_id: str | None) -> WebClient:
        return self._client(self.bot(team_id, enterprise_id))

    def each(self) -> Iterator[WebClient]:
        for team_id, enterprise_id in self.installed():
            try:
                yield self.for_team(team_id, enterprise_id)
            except NotInstalled:  # uninstalled while we were reading
                continue

    def organisation(self) -> frozenset[str]:
        with self._lock:
            ids, read_at = self._organisation
        if time.monotonic() - read_at >= CACHE_SECONDS:
            ids = frozenset(i for where in self.installed() for i in where if i)
            with self._lock:
                self._organisation = (ids, time.monotonic())
        return ids

    def forget(self) -> None:
        """Drop cached tokens (after an install or uninstall in this process)."""
        with self._lock:
            self._cache.clear()
            self._home = (None, 0.0)
            self._organisation = (frozenset(), -CACHE_SECONDS)

    # -- lookups -------------------------------------------------------------------------

    def bot(self, team_id: str | None, enterprise_id: str | None) -> Bot:
        """The freshest bot of this workspace, or of its organisation's org-wide install."""
        key = (enterprise_id, team_id)
        with self._lock:
            cached = self._cache.get(key)
        if (
            cached
            and time.monotonic() - cached.read_at < CACHE_SECONDS
            and not self._expiring(cached.bot)
        ):
            return cached.bot
        bot = self._find(team_id, enterprise_id)
        if bot is None:
            raise NotInstalled(
                f"the app is not installed in {team_id or enterprise_id}: "
                "install it there from /slack/install"
            )
        if self._expiring(bot):
            bot = self._rotate(bot)
        with self._lock:
            self._cache[key] = _Cached(bot, time.monotonic())
        return bot

    def home_bot(self) -> Bot:
        """SLACK_HOME_TEAM's installation, or the first workspace that installed the app."""
        if self.home_team and self.home_team.startswith("E"):
            return self.bot(None, self.home_team)
        with self._lock:
            home, read_at = self._home
        if home is None or time.monotonic() - read_at >= CACHE_SECONDS:
            installed = self.installed()
            if self.home_team:
                matches = [where for where in installed if where[0] == self.home_team]
                home = matches[0] if matches else (self.home_team, None)
            elif installed:
                home = installed[0]
            else:
                raise NotInstalled("no workspace has installed the app yet: open /slack/install")
            with self._lock:
                self._home = (home, time.monotonic())
        return self.bot(*home)

    def installed(self) -> list[tuple[str | None, str | None]]:
        """(team, enterprise) of every installation, the first installed first."""
        bots = self.store.bots
        query = (
            select(bots.c.team_id, bots.c.enterprise_id)
            .where(bots.c.client_id == self.store.client_id, bots.c.bot_token.is_not(None))
            .order_by(bots.c.installed_at, bots.c.id)
        )
        with self.store.engine.connect() as connection:
            rows = list(connection.execute(query))
        seen: dict[tuple[str | None, str | None], None] = {}
        for team_id, enterprise_id in rows:
            seen.setdefault((team_id, enterprise_id), None)
        return list(seen)

    def _find(self, team_id: str | None, enterprise_id: str | None) -> Bot | None:
        bot = self.store.find_bot(enterprise_id=enterprise_id, team_id=team_id)
        if bot is None and enterprise_id is not None and team_id is not None:
            # An org-wide Grid install answers for every workspace of the organisation.
            bot = self.store.find_bot(
                enterprise_id=enterprise_id, team_id=None, is_enterprise_install=True
            )
        return bot

    # -- token rotation ------------------------------------------------------------------

    def _expiring(self, bot: Bot) -> bool:
        expires = bot.bot_token_expires_at
        return expires is not None and expires <= time.time() + self.rotation_minutes * 60

    def _rotate(self, bot: Bot) -> Bot:
        """Refresh an expiring token once across processes, and save it."""
        lock = None
        if self.redis is not None:
            name = f"triage:slack-rotate:{bot.enterprise_id}:{bot.team_id}"
            lock = self.redis.lock(name, timeout=30, blocking_timeout=15)
            try:
                if not lock.acquire():
                    lock = None  # someone else is rotating; re-read what they saved
            except RedisError as exc:  # rotate anyway: an expired token is worse
                log.warning("slack.rotate_unlocked", error=type(exc).__name__)
                lock = None
        try:
            latest = self._find(bot.team_id, bot.enterprise_id) or bot
            if not self._expiring(latest):
                return latest  # another process rotated it while we waited
            try:
                refreshed = self.rotator.perform_bot_token_rotation(
                    bot=latest, minutes_before_expiration=self.rotation_minutes
                )
            except (SlackTokenRotationError, OSError) as exc:
                # Slack is out of reach or refused: the token still works until it expires,
                # and the next call tries again.
                log.warning("slack.rotate_failed", team_id=bot.team_id, error=str(exc)[:200])
                return latest
            if refreshed is None:
                return latest
            self.store.save_bot(refreshed)
            log.info("slack.token_rotated", team_id=bot.team_id, enterprise_id=bot.enterprise_id)
            return refreshed
        finally:
            if lock is not None:
                with contextlib.suppress(RedisError):
                    lock.release()

    def _client(self, bot: Bot) -> WebClient:
        token = bot.bot_token or ""
        with self._lock:
            client = self._clients.get(token)
            if client is None:
                if len(self._clients) > 256:  # rotated-away tokens
                    self._clients.clear()
                # Slack counts its limits per workspace: the team's budget, whichever token
                # (before and after a rotation) it is spent with.
                workspace = bot.team_id or bot.enterprise_id
                client = self._clients[token] = build_web_client(
                    token,
                    self.api_url,
                    budget=self.budget,
                    workspace=workspace,
                    timeout=self.timeout,
                )
            return client
