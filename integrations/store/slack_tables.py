"""The tables of Slack OAuth installs (SPEC §3), part of `Base.metadata` because
`integrations/store/__init__.py` imports this module."""

from __future__ import annotations

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

from integrations.store.models import Base

# Slack OAuth installs (SPEC §3): slack_sdk's own stores keep installations, bots and OAuth
# states in these tables. Building them into our metadata lets Alembic own the schema, and
# `alembic check` fails if a slack_sdk upgrade ever changes it.
SLACK_INSTALLATIONS = SQLAlchemyInstallationStore.build_installations_table(
    Base.metadata, "slack_installations"
)
SLACK_BOTS = SQLAlchemyInstallationStore.build_bots_table(Base.metadata, "slack_bots")
SLACK_OAUTH_STATES = SQLAlchemyOAuthStateStore.build_oauth_states_table(
    Base.metadata, "slack_oauth_states"
)
