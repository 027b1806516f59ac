"""The local Salesforce answers in Salesforce's shapes (tests/fixtures/salesforce) and is strict
enough to catch what the real one would refuse."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from tests import salesforce_world
from tests.harness import REPO
from tests.salesforce_world import Org

org, jwt_keys = salesforce_world.org, salesforce_world.jwt_keys  # fixtures
SAMPLES = REPO / "tests" / "fixtures" / "salesforce"


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


def call(org: Org, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {org.server.issue_session()}"}
    return requests.request(
        method,
        f"{org.server.url}/services/data/v59.0/{path}",
        headers=headers,
        timeout=10,
        verify=org.server.ca_file,
        **kwargs,
    )


def test_query_answers_have_salesforces_shape(org: Org) -> None:
    answer = call(org, "GET", "query/", params={"q": "SELECT Name FROM Account LIMIT 2"}).json()
    expected = sample("query_response_done.json")
    assert set(answer) == set(expected)
    assert set(answer["records"][0]) == set(expected["records"][0])
    assert set(answer["records"][0]["attributes"]) == {"type", "url"}

    soql = (
        "SELECT Name, Owner.Email, (SELECT Subject FROM Cases) FROM Account "
        "WHERE Name = 'O\\'Brien & Co Holdings'"
    )
    record = call(org, "GET", "query/", params={"q": soql}).json()["records"][0]
    assert (
        record["Owner"]["Email"] == "amy@acme.test"
        and record["Owner"]["attributes"]["type"] == "User"
    )
    assert record["Cases"] is None  # no children: null, as Salesforce answers


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FROM Account WHERE Name = 'O'Brien & Co'", "MALFORMED_QUERY"),
        ("SELEC Id FROM Account", "MALFORMED_QUERY"),
        ("SELECT Id FROM Accountx", "INVALID_TYPE"),
        ("SELECT Id, Tier FROM Account", "INVALID_FIELD"),
    ],
)
def test_what_salesforce_refuses_is_refused(org: Org, soql: str, code: str) -> None:
    response = call(org, "GET", "query/", params={"q": soql})
    assert response.status_code == 400
    body = response.json()
    assert isinstance(body, list) and body[0]["errorCode"] == code and body[0]["message"]


def test_errors_and_creates_match_the_samples(org: Org) -> None:
    errors = sample("error_responses.json")
    for fault in ("INVALID_SESSION_ID", "REQUEST_LIMIT_EXCEEDED"):
        org.server.fail(fault)
        response = call(org, "GET", "query/", params={"q": "SELECT Id FROM Account"})
        assert response.status_code == errors[fault]["http_status"]
        assert response.json() == errors[fault]["body"]

    created = call(org, "POST", "sobjects/Case/", json={"AccountId": org.globex, "Subject": "x"})
    assert created.status_code == sample("sobject_create_success.json")["_http_status"]
    assert set(created.json()) == set(sample("sobject_create_success.json")["body"])
    refused = call(org, "POST", "sobjects/Case/", json={"Id": "500x", "Subject": "x"})
    assert refused.json() == errors["INVALID_FIELD_on_create"]["body"]
