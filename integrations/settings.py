"""Settings, read from the environment and `.env` exactly as SPEC §4 names them.

Every setting has a default or is optional here; what a command *requires* is checked by
`Settings.require`, so a missing value fails with one line that names it, never a traceback.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from functools import lru_cache
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from integrations.business_hours import BusinessHours, BusinessHoursError

# The triage's categories (workers.triage_types.Category, which tests/test_auto_send.py keeps
# in step): settings cannot import workers, and an unknown name would silently never match.
TRIAGE_CATEGORIES = (
    "question",
    "bug",
    "incident",
    "feature_request",
    "billing",
    "account_access",
    "other",
    "no_action",
)


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line meant for a person."""


def _parse_pairs(value: object, *, what: str) -> dict[str, str]:
    """Parse `a=1,b=2` (the format of SLA_MINUTES and CASE_PRIORITY) into a dict."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    pairs: dict[str, str] = {}
    for part in str(value).split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, val = part.partition("=")
        if not sep or not key.strip() or not val.strip():
            raise ValueError(f"{what}: expected name=value pairs separated by commas, got {part!r}")
        pairs[key.strip()] = val.strip()
    return pairs


def _parse_list(value: object) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value or "").split(",") if v.strip()]


class Settings(BaseSettings):
    """All configuration of the app; see `.env.example` for the documented list."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        env_ignore_empty=True,  # `OPENAI_API_KEY=` in .env means "not set", not ""
    )

    # Slack
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    # OAuth installs (SLACK_CLIENT_ID + SLACK_CLIENT_SECRET instead of SLACK_BOT_TOKEN)
    slack_install_teams: Annotated[list[str], NoDecode] = Field(default_factory=list)
    slack_home_team: str | None = None  # holds TRIAGE_CHANNEL; default: the first install
    slack_redirect_uri: str | None = None  # only when the app lists several redirect URLs
    slack_token_rotation_minutes: int = Field(default=120, ge=1)

    # Storage and queues
    database_url: str = "sqlite:///./triage.db"
    redis_url: str = "redis://localhost:6379/0"

    # OpenAI
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    openai_timeout_seconds: float = Field(default=20.0, gt=0)
    openai_max_retries: int = Field(default=2, ge=0)
    # Vectors for semantic retrieval and suggestions (docs/ARCHITECTURE.md); empty: words only
    embedding_model: str = "text-embedding-3-small"
    # Without an embedding API, vectors from the multilingual encoder the package ships
    # (integrations/local_embeddings.py), which the offline classifier reads too; false: words
    # only, and the encoder never loads (its memory saved)
    local_embeddings: bool = True
    # Screenshots go to the model as images; redaction cannot mask what an image shows.
    model_reads_images: bool = True
    # The approvers' language (ISO 639-1): drafts follow the customer's language, and a card
    # for a customer who wrote in another one shows the approver a translation (SPEC §5.4)
    team_language: str = Field(default="en", pattern=r"^[a-z]{2}$")

    # Salesforce
    salesforce_instance_url: str | None = None
    salesforce_access_token: SecretStr | None = None
    salesforce_username: str | None = None
    salesforce_password: SecretStr | None = None
    salesforce_security_token: SecretStr | None = None
    salesforce_domain: str = "login"
    salesforce_consumer_key: str | None = None
    salesforce_private_key_file: str | None = None
    salesforce_channel_field: str = "Slack_Channel_Id__c"
    salesforce_tier_field: str = "Tier__c"
    # Optional Account field with the account's business hours (BUSINESS_HOURS format); when
    # unset or empty on an account, BUSINESS_HOURS applies.
    salesforce_business_hours_field: str | None = None
    salesforce_api_version: str = "59.0"
    salesforce_timeout_seconds: float = Field(default=5.0, gt=0)
    context_cache_seconds: float = Field(default=600.0, ge=0)  # 0: ask the CRM every time
    accounts_file: str | None = None  # without Salesforce: accounts from a YAML or JSON file
    triage_admins: Annotated[list[str], NoDecode] = Field(default_factory=list)  # /triage link

    # Channels and people
    triage_channel: str | None = None
    escalation_channel: str | None = None
    support_leads: Annotated[list[str], NoDecode] = Field(default_factory=list)
    pull_in_in_customer_thread: bool = False

    # Policy
    sla_minutes: Annotated[dict[str, float], NoDecode] = Field(
        default_factory=lambda: {"enterprise": 15.0, "premium": 60.0, "standard": 240.0}
    )
    case_priority: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=lambda: {"P1": "High", "P2": "High", "P3": "Medium", "P4": "Low"}
    )
    retention_days: int = Field(default=90, ge=1)
    grouping_minutes: float = Field(default=2.0, ge=0)
    knowledge_dir: str | None = None
    gaps_weekly: bool = False  # the week's top knowledge gaps posted in TRIAGE_CHANNEL (§6.7)
    business_hours: str = "mon-fri 09:00-18:00 UTC"

    # Incidents (SPEC §6.6): reports of one problem from several accounts, answered once
    incidents: bool = True
    incident_channel: str | None = None  # the incident cards; empty: ESCALATION_CHANNEL
    incident_window_minutes: float = Field(default=15.0, gt=0)
    incident_min_accounts: int = Field(default=3, ge=2)  # one account alone is never one
    incident_similarity: float = Field(default=0.45, gt=0, le=1)  # see workers/incident_match

    # CSAT (SPEC §6.7): one question in the customer's thread after an answer
    csat_after_minutes: float = Field(default=60.0, ge=0)  # 0: never asked
    csat_tiers: Annotated[list[str], NoDecode] = Field(default_factory=list)  # empty: every tier

    # Auto-send (SPEC §6.7, opt-in): drafts posted without approval where AUTO_SEND names the
    # channel (channel:<id>) or the tier (tier:<name>) and every guard holds (workers/auto_send)
    auto_send: Annotated[list[str], NoDecode] = Field(default_factory=list)  # empty: never
    auto_send_categories: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["question"]
    )
    auto_send_min_score: float = Field(default=0.7, ge=0, le=1)  # workers/grounding_score
    auto_send_min_confidence: float = Field(default=0.8, ge=0, le=1)  # the model's own

    # Throughput (SPEC §5.7)
    model_concurrency: int = Field(default=32, ge=1)  # model calls in flight, per deployment
    # Cards by tier:, owner: or channel:, then default= (docs/reference.md, routes)
    triage_routes: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)

    # Colleague suggestions (SPEC §5.5): a person's score is the sum of these terms
    suggest_weight_expertise: float = Field(default=1.0, ge=0)  # × similar answers, 0..1
    suggest_weight_owner: float = Field(default=0.15, ge=0)  # the account's owner
    suggest_weight_regular: float = Field(default=0.5, ge=0)  # × their share of the channel
    suggest_weight_case_owner: float = Field(default=0.1, ge=0)  # owns an open Case of it
    suggest_weight_online: float = Field(default=0.05, ge=0)  # users.getPresence "active"
    suggest_weight_working_hours: float = Field(default=0.05, ge=0)  # local time in hours
    suggest_weight_load: float = Field(default=0.03, ge=0)  # minus, per open request on them
    suggest_half_life_days: float = Field(default=180.0, gt=0)  # evidence weight halves
    suggest_working_hours: str = "mon-fri 09:00-18:00"  # in each person's own time zone
    suggest_opt_out: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Operations (not in SPEC §4: how the processes behave)
    log_level: str = "INFO"
    log_format: str = "auto"  # auto | json | console
    lease_seconds: float = Field(default=15.0, gt=0)
    worker_threads: int = Field(default=16, ge=1)  # jobs in flight in one worker process
    # Slack's published rates are multiplied by this in the app's call budget: only for a
    # Slack emulator that enforces them faster (SLACK_EMULATOR_LIMITS), never for Slack
    slack_rate_scale: float = Field(default=1.0, gt=0)
    # How long one Slack Web API call may take before it is given up (and retried)
    slack_timeout_seconds: int = Field(default=10, ge=1)
    sweep_seconds: float = Field(default=5.0, gt=0)
    # A draft the model could not write is asked for again after this, doubling (workers/redraft)
    redraft_seconds: float = Field(default=60.0, gt=0)
    reconcile_minutes: float = Field(default=10.0, ge=0)
    reconcile_lookback_minutes: float = Field(default=60.0, gt=0)
    # Where the web and worker processes share their Prometheus samples; see metrics_folder
    metrics_dir: str | None = None

    @field_validator(
        "support_leads",
        "triage_admins",
        "suggest_opt_out",
        "slack_install_teams",
        "csat_tiers",
        mode="before",
    )
    @classmethod
    def _leads(cls, value: object) -> list[str]:
        return _parse_list(value)

    @field_validator("auto_send", mode="before")
    @classmethod
    def _auto_send(cls, value: object) -> list[str]:
        rules = []
        for rule in _parse_list(value):
            kind, _, key = rule.partition(":")
            if kind not in ("tier", "channel") or not key:
                raise ValueError(
                    f"AUTO_SEND: {rule!r} is not tier:<name> or channel:<channel id> "
                    "(e.g. AUTO_SEND=tier:standard,channel:C0123ABCD)"
                )
            rules.append(f"tier:{key.lower()}" if kind == "tier" else rule)
        return rules

    @field_validator("auto_send_categories", mode="before")
    @classmethod
    def _auto_send_categories(cls, value: object) -> list[str]:
        categories = [c.lower() for c in _parse_list(value)]
        unknown = [c for c in categories if c not in TRIAGE_CATEGORIES]
        if unknown:
            raise ValueError(
                f"AUTO_SEND_CATEGORIES: {', '.join(map(repr, unknown))} is not a category; "
                f"use {', '.join(TRIAGE_CATEGORIES)}"
            )
        return categories

    @field_validator("sla_minutes", mode="before")
    @classmethod
    def _sla(cls, value: object) -> dict[str, float]:
        out: dict[str, float] = {}
        for tier, minutes in _parse_pairs(value, what="SLA_MINUTES").items():
            try:
                out[tier.lower()] = float(minutes)
            except ValueError:
                raise ValueError(f"SLA_MINUTES: {minutes!r} for {tier!r} is not a number") from None
            if out[tier.lower()] <= 0:
                raise ValueError(f"SLA_MINUTES: {tier!r} must be positive")
        return out

    @field_validator("triage_routes", mode="before")
    @classmethod
    def _routes(cls, value: object) -> dict[str, str]:
        routes = _parse_pairs(value, what="TRIAGE_ROUTES")
        for rule, channel in routes.items():
            kind, _, key = rule.partition(":")
            if rule != "default" and (kind not in ("tier", "owner", "channel") or not key):
                raise ValueError(
                    f"TRIAGE_ROUTES: {rule!r} is not tier:<name>, owner:<user id>, "
                    "channel:<channel id> or default"
                )
            if not channel.startswith(("C", "G")):
                raise ValueError(f"TRIAGE_ROUTES: {channel!r} for {rule!r} is not a channel id")
        return {
            (f"tier:{rule[5:].lower()}" if rule.startswith("tier:") else rule): channel
            for rule, channel in routes.items()
        }

    @field_validator("case_priority", mode="before")
    @classmethod
    def _case_priority(cls, value: object) -> dict[str, str]:
        pairs = _parse_pairs(value, what="CASE_PRIORITY")
        return {level.upper(): priority for level, priority in pairs.items()}

    @field_validator("business_hours", "suggest_working_hours")
    @classmethod
    def _hours(cls, value: str, info: ValidationInfo) -> str:
        """Days and times that parse; SUGGEST_WORKING_HOURS names no zone (it is each person's
        own), so it is checked as if in UTC."""
        zone = " UTC" if info.field_name == "suggest_working_hours" else ""
        try:
            BusinessHours.parse(f"{value}{zone}")
        except BusinessHoursError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    def require(self, *names: str) -> None:
        """Fail with one clear line when a setting a command needs is not set."""
        for name in names:
            value = getattr(self, name)
            if value is None or (isinstance(value, SecretStr) and not value.get_secret_value()):
                raise ConfigError(f"{name.upper()} is not set: {_WHY.get(name, 'it is required')}")

    @property
    def uses_oauth(self) -> bool:
        """OAuth installs (one token per workspace) rather than one SLACK_BOT_TOKEN."""
        return self.slack_client_id is not None or self.slack_client_secret is not None

    def require_slack(self) -> None:
        """What serving Slack's requests needs: the signing secret and bot tokens."""
        self.require("slack_signing_secret")
        self.require_bot_tokens()

    def require_bot_tokens(self) -> None:
        """Exactly one way of getting bot tokens: SLACK_BOT_TOKEN, or OAuth installs."""
        if self.uses_oauth:
            self.require("slack_client_id", "slack_client_secret")
            if self.slack_bot_token is not None:
                raise ConfigError(
                    "SLACK_BOT_TOKEN and SLACK_CLIENT_ID are both set: keep SLACK_BOT_TOKEN for "
                    "a single-workspace install, or SLACK_CLIENT_ID/SECRET for OAuth installs"
                )
        else:
            self.require("slack_bot_token")

    @property
    def uses_openai(self) -> bool:
        return self.openai_api_key is not None

    def metrics_folder(self) -> str:
        """METRICS_DIR, or a folder of this deployment's own in the temp dir.

        Named after a hash of what the deployment *is*, its database: DATABASE_URL without the
        password (which may change, and should not be spelled in a folder name), a SQLite
        file by its absolute path (`sqlite:///./triage.db` in two checkouts is two
        deployments). Two deployments on one host share a folder only by sharing a database,
        and then they are one deployment; a fixed name summed every deployment's counters."""
        if self.metrics_dir:
            return self.metrics_dir
        return os.path.join(tempfile.gettempdir(), f"triage-metrics-{_deployment_key(self)}")


def _deployment_key(settings: Settings) -> str:
    url = settings.database_url
    scheme, _, rest = url.partition("://")
    if scheme.startswith("sqlite"):
        path = rest.removeprefix("/").partition("?")[0]
        where = os.path.abspath(path) if path and path != ":memory:" else os.getcwd()
        identity = f"sqlite:{where}"
    else:
        try:
            parts = urlsplit(url)
            login = f"{parts.username}@" if parts.username else ""
            identity = f"{scheme}://{login}{parts.hostname}:{parts.port}{parts.path}?{parts.query}"
        except ValueError:  # a malformed URL: the database check names it, not this
            identity = url
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


_WHY = {
    "slack_bot_token": "the bot token (xoxb-...) from your Slack app's OAuth & Permissions page "
    "(or, for OAuth installs, SLACK_CLIENT_ID and SLACK_CLIENT_SECRET)",
    "slack_signing_secret": "the signing secret from your Slack app's Basic Information page",
    "slack_client_id": "the Client ID from your Slack app's Basic Information page (OAuth)",
    "slack_client_secret": "the Client Secret from your Slack app's Basic Information page",
    "slack_app_token": "Socket Mode needs an app-level token (xapp-...) with connections:write",
    "triage_channel": "the id of the internal channel where approval cards are posted (C...)",
}


def load_settings(**overrides: object) -> Settings:
    """Build Settings, turning pydantic's validation report into one line per bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise ConfigError(f"{name} is invalid: {first['msg']}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return load_settings()
