"""The composition root: every connection the app and the workers use, built from Settings.

Nothing is created at import time; `Deps.build` is called once per process (the CLI, a test).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from redis import Redis
from slack_sdk import WebClient
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from integrations.accounts_file import AccountsFile
from integrations.llm import Embedder, LanguageModel, OpenAIModel
from integrations.local_embeddings import LocalEmbedder, use_encoder
from integrations.model_slots import BoundedModel, ModelSlots
from integrations.queues import JobQueues, Queues
from integrations.salesforce import AccountDirectory
from integrations.salesforce_auth import auth_from_settings
from integrations.settings import Settings
from integrations.slack import build_web_client
from integrations.slack_budget import SlackBudget
from integrations.slack_installs import InstalledTokens, SingleToken, SlackClients
from integrations.store.db import create_db_engine, session_factory
from integrations.store.expertise_index import ExpertiseIndex
from integrations.store.vector_cache import VectorCache


@dataclass
class Deps:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    redis: Redis
    queues: JobQueues
    slack_clients: SlackClients
    llm: LanguageModel | None = None  # None: no OPENAI_API_KEY, the offline paths answer
    embedder: Embedder | None = None  # OpenAI's (EMBEDDING_MODEL), else LOCAL_EMBEDDINGS'
    accounts: AccountDirectory | None = None  # Salesforce, ACCOUNTS_FILE, or None (no CRM)
    expertise: ExpertiseIndex = field(default_factory=ExpertiseIndex)  # loaded at first use
    vectors: VectorCache = field(default_factory=VectorCache)  # scopes' vectors, while current

    @classmethod
    def build(cls, settings: Settings, *, redis: Redis | None = None) -> Deps:
        engine = create_db_engine(settings.database_url)
        if redis is None:
            # Short timeouts: a listener must ack within Slack's 3 seconds even when Redis hangs.
            redis = Redis.from_url(settings.redis_url, socket_connect_timeout=1, socket_timeout=2)
        llm = language_model(settings, redis=redis)
        use_encoder(settings.local_embeddings)  # off: not even the classifier loads it
        return cls(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            redis=redis,
            queues=Queues(redis),
            slack_clients=slack_clients(settings, engine, redis),
            llm=llm,
            embedder=embedder_of(llm, settings),
            accounts=build_account_directory(settings),
        )

    @property
    def slack(self) -> WebClient:
        """The home installation's client: TRIAGE_CHANNEL, ESCALATION_CHANNEL, our people."""
        return self.slack_clients.home()

    def slack_for(self, team_id: str | None, enterprise_id: str | None) -> WebClient:
        """The client of the workspace a customer's channel belongs to (its event's team)."""
        return self.slack_clients.for_team(team_id, enterprise_id)

    def close(self) -> None:
        self.engine.dispose()
        self.redis.close()


def slack_clients(settings: Settings, engine: Engine, redis: Redis | None) -> SlackClients:
    """One bot token, or (OAuth) the installation store's token for each workspace; every
    client spends from its workspace's Slack call budget, shared in `redis` (None: the
    Retry-Afters this process is given only)."""
    budget = SlackBudget(redis, scale=settings.slack_rate_scale)
    if not settings.uses_oauth:
        token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
        return SingleToken(
            build_web_client(
                token,
                settings.slack_api_url,
                budget=budget,
                timeout=settings.slack_timeout_seconds,
            )
        )
    settings.require("slack_client_id", "slack_client_secret")
    assert settings.slack_client_id is not None and settings.slack_client_secret is not None
    return InstalledTokens(
        SQLAlchemyInstallationStore(client_id=settings.slack_client_id, engine=engine),
        api_url=settings.slack_api_url,
        client_secret=settings.slack_client_secret.get_secret_value(),
        home_team=settings.slack_home_team,
        rotation_minutes=settings.slack_token_rotation_minutes,
        redis=redis,
        budget=budget,
        timeout=settings.slack_timeout_seconds,
    )


def language_model(settings: Settings, *, redis: Redis | None = None) -> LanguageModel | None:
    """The configured model, or None without OPENAI_API_KEY (the offline paths answer).

    With Redis, each call holds one of the deployment's MODEL_CONCURRENCY slots."""
    if settings.openai_api_key is None:
        return None
    model = OpenAIModel(
        api_key=settings.openai_api_key.get_secret_value(),
        model=settings.openai_model,
        base_url=settings.openai_base_url,
        timeout=settings.openai_timeout_seconds,
        max_retries=settings.openai_max_retries,
        embedding_model=settings.embedding_model,
    )
    if redis is None:
        return model
    # A hold outlives the longest call the client may make (each attempt's timeout, retries).
    longest = settings.openai_timeout_seconds * (settings.openai_max_retries + 1) + 30
    return BoundedModel(model, ModelSlots(redis, settings.model_concurrency, hold_seconds=longest))


def embedder_of(llm: LanguageModel | None, settings: Settings) -> Embedder | None:
    """The chat model's own client as an embedder, when EMBEDDING_MODEL names a model;
    else the bundled encoder (`LOCAL_EMBEDDINGS`); else None (words only). Embeddings hold
    no MODEL_CONCURRENCY slot: they are short, and rate-limited apart."""
    model = llm.model if isinstance(llm, BoundedModel) else llm
    if isinstance(model, OpenAIModel) and model.embedding_model:
        return model
    return LocalEmbedder() if settings.local_embeddings else None


def build_account_directory(settings: Settings) -> AccountDirectory | None:
    """Salesforce when any of its credentials are set, else ACCOUNTS_FILE, else None.

    Makes no network call: Salesforce logs in on first use."""
    auth = auth_from_settings(settings)
    if auth is not None:
        # Imported here: the client library is loaded only by a deployment that uses it.
        from integrations.salesforce_api import SalesforceDirectory

        return SalesforceDirectory(auth, settings)
    if settings.accounts_file:
        return AccountsFile(settings.accounts_file)
    return None
