"""An incident's Salesforce Cases (SPEC §6.6): one parent Case, each affected account's Case
under it (ParentId), on the local Salesforce server and on the accounts file; retries,
concurrent jobs and an outage of Salesforce open nothing twice and leave nothing unlinked."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from redis import Redis
from rq import Queue
from sqlalchemy import select

from integrations.accounts_file import AccountsFile
from integrations.queues import PIPELINE, PIPELINE_FIRST
from integrations.salesforce import CrmUnavailable, NewCase
from integrations.store.db import transaction
from integrations.store.incident_models import Incident, IncidentReport
from integrations.store.models import Request
from tests import salesforce_world
from tests.harness import World
from tests.incident_world import INCIDENTS, SSO, customer, incident_cards, incident_world, says
from tests.salesforce_world import Org, auth_settings
from workers.incident_cases import link_cases
from workers.incident_jobs import recover_incidents, sync_incident_now
from workers.process import TriageWorker

org, jwt_keys = salesforce_world.org, salesforce_world.jwt_keys  # fixtures


@pytest.fixture
def sf_world(org: Org, database_url: str, redis_url: str) -> Iterator[World]:
    """The incident world, its CRM the local Salesforce org; the premium tier's hour to a
    first update (not the incident world's seconds: no breach queues a job of its own)."""
    settings = auth_settings(org, "access token") | {"sla_minutes": "premium=60"}
    with incident_world(database_url, redis_url, **settings) as world:
        yield world


def accounts_in_org(world: World, org: Org, n: int) -> list[tuple[dict[str, str], str]]:
    """`n` customers, each with an account in the org linked to their channel."""
    people = [customer(world, i) for i in range(n)]
    return [
        (who, org.server.add_account(f"Customer {i}", channel=who["channel"], tier="premium"))
        for i, who in enumerate(people)
    ]


def slack_cases(org: Org) -> list[dict[str, Any]]:
    """The Cases the app opened (Origin Slack), oldest first."""
    answer = org.server.org.query(
        "SELECT Id, Subject, AccountId, ParentId, Origin FROM Case WHERE Origin = 'Slack' "
        "ORDER BY CaseNumber"
    )
    return list(answer["records"])


def the_incident(world: World) -> Incident:
    with transaction(world.deps.sessions) as session:
        [incident] = session.scalars(select(Incident)).all()
        session.expunge(incident)
        return incident


def linked(world: World) -> dict[int, str | None]:
    """Each report's request id and its linked Case."""
    with transaction(world.deps.sessions) as session:
        rows = session.execute(select(IncidentReport.request_id, IncidentReport.case_id)).all()
    return {request_id: case_id for request_id, case_id in rows}


def requests_of(world: World, channel: str) -> list[int]:
    with transaction(world.deps.sessions) as session:
        return list(
            session.scalars(
                select(Request.id).where(Request.channel_id == channel).order_by(Request.id)
            )
        )


def summary_of(world: World, request_id: int) -> str:
    with transaction(world.deps.sessions) as session:
        return session.get_one(Request, request_id).summary or ""


def drain_pipeline(world: World) -> None:
    """Only the pipeline's jobs (context, grouping): the incident's job waits in delivery."""
    world.deps.queues.wait_handed_off()
    connection = Redis.from_url(world.settings.redis_url)
    queues = [Queue(name, connection=connection) for name in (PIPELINE_FIRST, PIPELINE)]
    TriageWorker(queues, connection=connection, deps=world.deps).work(
        burst=True, logging_level="WARNING"
    )
    connection.close()


def case_posts(org: Org) -> int:
    return sum(
        1
        for c in org.server.api_calls()
        if c.method == "POST" and c.path.rstrip("/").endswith("/Case")
    )


def test_one_parent_case_and_each_account_case_under_it(sf_world: World, org: Org) -> None:
    """Removing the reuse in `_account_case` (`if account_id in shared`) opens a second Case
    for Customer 0's second report; removing the `not r.case_id` filter of `todo` makes the
    retried job call Salesforce again; removing the second `_card` of `sync_incident_now`
    leaves the card without its parent Case."""
    world = sf_world
    people = accounts_in_org(world, org, 4)
    for (who, _), text in zip(people[:3], SSO, strict=False):
        says(world, who, text)
    world.drain()

    incident = the_incident(world)
    [parent, *children] = slack_cases(org)
    assert parent["AccountId"] is None and parent["ParentId"] is None
    assert parent["Id"] == incident.parent_case_id
    assert parent["Subject"] == f"[Incident #1] {incident.title}"
    assert sorted(c["AccountId"] for c in children) == sorted(a for _, a in people[:3])
    assert all(c["ParentId"] == parent["Id"] for c in children)
    by_account = {c["AccountId"]: c for c in children}
    for who, account in people[:3]:
        # each account's Case carries its own customer's report, never another's
        [request_id] = requests_of(world, who["channel"])
        case = by_account[account]
        assert case["Subject"] == f"[Incident #1] {summary_of(world, request_id)}"
        assert linked(world)[request_id] == case["Id"]
    assert incident.cases_done
    [card] = incident_cards(world)
    assert f"parent Case {parent['Id']}" in json.dumps(card["blocks"])
    # The card: posted once, then updated once to show its parent Case.
    updates = [c for c in world.emu.calls("chat.update") if c.args.get("channel") == INCIDENTS]
    assert len(updates) == 1, updates

    # A fourth account joins, already escalated (its request has a Case): that Case is linked.
    # Customer 0 reports again: the report shares Customer 0's Case. A channel with no account
    # joins too: skipped.
    (fourth, fourth_account) = people[3]
    escalated = org.server.add("Case", AccountId=fourth_account, Subject="SSO", Priority="High")
    says(world, fourth, SSO[3])
    [fourth_request] = requests_of(world, fourth["channel"])
    with transaction(world.deps.sessions) as session:
        session.get_one(Request, fourth_request).case_id = escalated
    says(world, people[0][0], "SSO still down here, HTTP 500 from /sso/saml/acs")
    says(world, customer(world, 9), "SAML SSO login fails with HTTP 500 for us too")
    world.drain()

    assert len(slack_cases(org)) == 4  # nothing new opened
    assert org.server.record("Case", escalated)["ParentId"] == parent["Id"]  # type: ignore[index]
    reports = linked(world)
    assert len(reports) == 6
    assert reports[fourth_request] == escalated
    first, second = requests_of(world, people[0][0]["channel"])
    assert reports[first] == reports[second] == by_account[people[0][1]]["Id"]
    [unlinked] = requests_of(world, "C0CUST009")
    assert reports[unlinked] is None
    assert the_incident(world).cases_done

    # A retried or replayed job: nothing opened, nothing updated, not one call to Salesforce.
    calls = len(org.server.api_calls())
    sync_incident_now(world.deps, incident.id)
    assert not link_cases(world.deps, incident.id)
    assert len(org.server.api_calls()) == calls


def test_salesforce_refuses_a_parent_that_is_no_case(sf_world: World, org: Org) -> None:
    """The local server, as Salesforce: ParentId must name a Case (INVALID_CROSS_REFERENCE_KEY),
    a refusal asking again will not change; an outage is not. Removing `_check_lookups` from
    `SalesforceOrg.update` lets the bad ParentId in."""
    directory = sf_world.deps.accounts
    assert directory is not None
    child = directory.create_case(NewCase(org.globex, "Child", "d", "High"))
    with pytest.raises(CrmUnavailable) as refused:
        directory.update_case(child, {"ParentId": "500000000000999AAA"})
    assert refused.value.permanent and "INVALID_CROSS_REFERENCE_KEY" in refused.value.reason
    with pytest.raises(CrmUnavailable) as refused:
        directory.create_case(NewCase(org.globex, "Child", "d", "High", parent_id=org.globex))
    assert refused.value.permanent
    assert org.server.record("Case", child)["ParentId"] is None  # type: ignore[index]
    parent = directory.create_case(NewCase(None, "Parent", "d", "High"))
    directory.update_case(child, {"ParentId": parent})
    assert org.server.record("Case", child)["ParentId"] == parent  # type: ignore[index]
    assert org.server.record("Case", parent)["AccountId"] is None  # type: ignore[index]
    org.server.fail("SERVER_ERROR")
    with pytest.raises(CrmUnavailable) as down:
        directory.update_case(child, {"ParentId": parent})
    assert not down.value.permanent


def test_salesforce_down_leaves_cases_to_the_sweeper(sf_world: World, org: Org) -> None:
    """Salesforce fails the parent Case, then the second account's, then a fourth account's
    that joins later: each later run takes up where the last stopped. Removing
    `_done(deps, incident_id, False)` from the outage branch leaves the incident marked done
    after the fourth account's failure (the sweeper never queues it); removing the store of
    the parent Case's id (`_open_parent`) or of a report's Case (`_link`) loses what the
    second run did."""
    world = sf_world
    people = accounts_in_org(world, org, 4)
    for (who, _), text in zip(people[:3], SSO, strict=False):
        says(world, who, text)
    drain_pipeline(world)  # the accounts are known; the incident formed, its job waits
    org.server.fail("SERVER_ERROR")  # the parent Case's creation
    world.drain()

    incident = the_incident(world)
    assert incident.parent_case_id is None and not incident.cases_done
    assert slack_cases(org) == [] and len(incident_cards(world)) == 1  # the card went out

    later = datetime.now(UTC) + timedelta(minutes=1)
    assert recover_incidents(world.deps, now=later) == 1  # queued again
    org.server.fail("SERVER_ERROR", after=2)  # the parent and one account's Case, then down
    world.drain()
    incident = the_incident(world)
    assert incident.parent_case_id is not None and not incident.cases_done
    assert sum(1 for c in linked(world).values() if c) == 1
    assert len(slack_cases(org)) == 2

    world.deps.queues.enqueue_incident(incident.id)  # the sweeper's next turn
    world.drain()
    [parent, *children] = slack_cases(org)
    assert parent["Id"] == incident.parent_case_id and len(children) == 3
    assert all(c["ParentId"] == parent["Id"] for c in children)
    assert sorted(filter(None, linked(world).values())) == sorted(c["Id"] for c in children)
    assert the_incident(world).cases_done
    assert f"parent Case {parent['Id']}" in json.dumps(incident_cards(world)[0]["blocks"])

    says(world, people[3][0], SSO[3])  # a fourth account joins while Salesforce is down
    drain_pipeline(world)
    org.server.fail("SERVER_ERROR")
    world.drain()
    assert not the_incident(world).cases_done  # what the sweeper looks for
    assert len(slack_cases(org)) == 4
    world.deps.queues.enqueue_incident(incident.id)  # its next turn
    world.drain()
    [parent, *children] = slack_cases(org)
    assert len(children) == 4 and all(c["ParentId"] == parent["Id"] for c in children)
    assert the_incident(world).cases_done


def test_an_escalated_case_salesforce_no_longer_has(sf_world: World, org: Org) -> None:
    """A refusal for good (404 on the escalated Case) is not retried: the account gets a Case
    as if unescalated, and the incident is done. Without the `exc.permanent` fallback in
    `_account_case` the report stays unlinked and the incident not done, for ever."""
    world = sf_world
    people = accounts_in_org(world, org, 3)
    says(world, people[0][0], SSO[0])
    [request_id] = requests_of(world, people[0][0]["channel"])
    with transaction(world.deps.sessions) as session:
        session.get_one(Request, request_id).case_id = "500000000000999AAA"  # deleted since
    for (who, _), text in zip(people[1:], SSO[1:], strict=False):
        says(world, who, text)
    world.drain()
    [_, *children] = slack_cases(org)
    assert sorted(c["AccountId"] for c in children) == sorted(a for _, a in people)
    assert linked(world)[request_id] == next(
        c["Id"] for c in children if c["AccountId"] == people[0][1]
    )
    assert the_incident(world).cases_done


def test_two_jobs_at_once_open_one_parent(sf_world: World, org: Org) -> None:
    """Jobs of one incident run at once when reports join together. Removing the lock
    (`with _lock(...)` in `link_cases`) lets both open a parent Case and the accounts'."""
    world = sf_world
    people = accounts_in_org(world, org, 3)
    for (who, _), text in zip(people, SSO, strict=False):
        says(world, who, text)
    drain_pipeline(world)
    incident_id = the_incident(world).id
    start = threading.Barrier(2)
    opened: list[bool] = []

    def job() -> None:
        start.wait()
        opened.append(link_cases(world.deps, incident_id))

    threads = [threading.Thread(target=job) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(opened) == [False, True]
    assert len(slack_cases(org)) == 4 and case_posts(org) == 4
    world.drain()
    assert case_posts(org) == 4 and the_incident(world).cases_done


def test_the_accounts_file_records_the_same(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    """Without Salesforce: the parent Case and each account's under it, in the accounts file's
    memory (the file itself is never written)."""
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(
        yaml.safe_dump(
            {
                "accounts": [
                    {"id": f"001FILE{n}", "name": f"Customer {n}", "channel": f"C0CUST{n:03d}"}
                    for n in range(3)
                ]
            }
        )
    )
    written = accounts.read_text()
    with incident_world(database_url, redis_url, accounts_file=str(accounts)) as world:
        people = [customer(world, n) for n in range(3)]
        for who, text in zip(people, SSO, strict=False):
            says(world, who, text)
        world.drain()
        directory = world.deps.accounts
        assert isinstance(directory, AccountsFile)
        incident = the_incident(world)
        assert incident.cases_done and incident.parent_case_id
        parent = directory.opened_case(incident.parent_case_id)
        assert parent is not None and parent["AccountId"] is None
        assert parent["Origin"] == "Slack" and parent["Subject"].startswith("[Incident #1] ")
        cases = [directory.opened_case(c or "") for c in linked(world).values()]
        assert sorted(c["AccountId"] for c in cases if c) == ["001FILE0", "001FILE1", "001FILE2"]
        assert all(c and c["ParentId"] == incident.parent_case_id for c in cases)
    assert accounts.read_text() == written


def test_without_a_crm_there_is_nothing_to_link(database_url: str, redis_url: str) -> None:
    with incident_world(database_url, redis_url) as world:
        for n, text in zip(range(3), SSO, strict=False):
            says(world, customer(world, n), text)
        world.drain()
        incident = the_incident(world)
        assert incident.cases_done and incident.parent_case_id is None
        updates = [c for c in world.emu.calls("chat.update") if c.args.get("channel") == INCIDENTS]
        assert updates == []  # no parent Case, no second draw
        assert "parent Case" not in json.dumps(incident_cards(world)[0]["blocks"])
