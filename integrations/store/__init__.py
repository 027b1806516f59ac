"""The database: models, engine and sessions, migrations."""

# The search index's tables are part of the schema (`Base.metadata`), wherever it is loaded.
from integrations.store import incident_models as incident_models
from integrations.store import search_models as search_models
