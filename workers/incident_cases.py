"""An incident's Salesforce Cases (SPEC §6.6): one parent Case, each account's Case under it.

Interim: not built yet. `link_cases` marks the incident's Cases as done without opening any,
so the sweeper does not queue it again; the parent Case is the next piece of issue 15.
"""

from __future__ import annotations

import structlog
from sqlalchemy import update

from integrations.deps import Deps
from integrations.store.db import transaction
from integrations.store.incident_models import Incident

log = structlog.get_logger(__name__)


def link_cases(deps: Deps, incident_id: int) -> None:
    with transaction(deps.sessions) as session:
        session.execute(update(Incident).where(Incident.id == incident_id).values(cases_done=True))
    log.info("incident.cases_not_built", incident_id=incident_id)
