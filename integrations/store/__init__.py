"""The database: models, engine and sessions, migrations."""

# Tables in modules of their own are part of the schema (`Base.metadata`) wherever it loads.
from integrations.store import backfill_models as backfill_models
from integrations.store import csat_models as csat_models
from integrations.store import incident_models as incident_models
from integrations.store import search_models as search_models
from integrations.store import slack_tables as slack_tables
from integrations.store import switch_models as switch_models
