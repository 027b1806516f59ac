"""A local Salesforce for tests and benchmarks: Salesforce's REST wire format over HTTPS.

Developer tool. simple-salesforce builds every URL with `https://`, so this server speaks TLS
with a certificate from a throwaway CA made at start (`trustme`, a dev dependency); point the
client at `ca_file` (`REQUESTS_CA_BUNDLE`). No key is ever written to the repository.

It serves what the app uses:

- `POST /services/Soap/u/<v>` (username + password + security token login, SOAP) and
  `POST /services/oauth2/token` (the JWT bearer grant, checked against the connected app's
  public key): both hand out a session id;
- `GET /services/data/v<v>/query/?q=` (the SOQL subset of `sandbox.salesforce_soql`);
- `POST /services/data/v<v>/sobjects/Case/`, `PATCH|GET .../sobjects/Case/<id>` (a Case may
  have a parent Case: `ParentId`).

Every request is recorded (`requests`, `api_calls()`, `logins()`), and faults can be queued
for the data API (`fail()`): INVALID_SESSION_ID, REQUEST_LIMIT_EXCEEDED, a 500, or a hang.
Error bodies are JSON arrays of `{message, errorCode}`, like Salesforce's.
"""

from __future__ import annotations

import json
import re
import secrets
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.dom import minidom

import jwt
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from sandbox.salesforce_org import SalesforceOrg
from sandbox.salesforce_soql import SoqlError

ERRORS = {
    "INVALID_SESSION_ID": (401, "Session expired or invalid"),
    "REQUEST_LIMIT_EXCEEDED": (403, "TotalRequests Limit exceeded."),
    "SERVER_ERROR": (
        500,
        "An unexpected error occurred. Please include this ErrorId if you "
        "contact support: 1234567890-12345 (-1234567890)",
    ),
}
FAULTS = (*ERRORS, "HANG")
_DATA = re.compile(r"^/services/data/v(?P<version>\d+\.\d)/(?P<rest>.*)$")
_SOAP_OK = """<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns="urn:partner.soap.sforce.com"><soapenv:Body><loginResponse><result>
<passwordExpired>false</passwordExpired><sandbox>false</sandbox>
<serverUrl>{url}/services/Soap/u/{version}/00D000000000001</serverUrl>
<sessionId>{session}</sessionId><userId>005000000000001AAA</userId>
</result></loginResponse></soapenv:Body></soapenv:Envelope>"""
_SOAP_FAULT = """<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:sf="urn:fault.partner.soap.sforce.com"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>
<faultcode>sf:INVALID_LOGIN</faultcode>
<faultstring>INVALID_LOGIN: Invalid username, password, security token; or user locked out.
</faultstring><detail><sf:LoginFault xsi:type="sf:LoginFault">
<sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>
<sf:exceptionMessage>Invalid username, password, security token; or user locked out.
</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault></soapenv:Body>
</soapenv:Envelope>"""


@dataclass(frozen=True)
class Recorded:
    """One request the server received."""

    method: str
    path: str
    soql: str | None
    status: int
    at: float


class _Quiet(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        pass


class SalesforceServer:
    """A Salesforce org on `https://127.0.0.1:<free port>`."""

    def __init__(
        self,
        *,
        api_version: str = "59.0",
        channel_field: str = "Slack_Channel_Id__c",
        tier_field: str = "Tier__c",
        extra_account_fields: tuple[str, ...] = (),
        username: str = "triage@acme.test",
        password: str = "correct horse",
        security_token: str = "TOKEN123",
        consumer_key: str = "3MVG9local",
        jwt_public_key: bytes | None = None,
        hang_seconds: float = 30.0,
    ) -> None:
        self.org = SalesforceOrg(
            account_fields=(channel_field, tier_field, *extra_account_fields),
            api_version=api_version,
        )
        self.channel_field, self.tier_field = channel_field, tier_field
        self.api_version = api_version
        self.username, self.password, self.security_token = username, password, security_token
        self.consumer_key, self.jwt_public_key = consumer_key, jwt_public_key
        self.hang_seconds = hang_seconds
        self.requests: list[Recorded] = []
        self._sessions: set[str] = set()
        self._faults: list[str | None] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._dir = tempfile.TemporaryDirectory(prefix="sf-local-")
        self.ca_file = ""
        self.url = ""

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> SalesforceServer:
        import trustme  # a dev dependency: only tests and benchmarks start this server

        ca = trustme.CA()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self.ca_file = str(Path(self._dir.name) / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        self._server = make_server(
            "127.0.0.1", 0, self._wsgi, threaded=True, ssl_context=context, request_handler=_Quiet
        )
        self.url = f"https://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._dir.cleanup()

    def __enter__(self) -> SalesforceServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the org --------------------------------------------------------------------------------
    def add_user(self, name: str, email: str) -> str:
        return self.org.insert("User", {"Name": name, "Email": email, "IsActive": True})

    def add_account(
        self,
        name: str,
        *,
        channel: str | None = None,
        tier: str | None = None,
        owner_id: str | None = None,
    ) -> str:
        values = {"Name": name, "OwnerId": owner_id, self.channel_field: channel}
        return self.org.insert("Account", {**values, self.tier_field: tier})

    def add(self, obj: str, **values: Any) -> str:
        """Any other record: `add("Case", AccountId=..., Subject=..., Priority="High")`."""
        return self.org.insert(obj, values)

    def record(self, obj: str, record_id: str) -> dict[str, Any] | None:
        return self.org.get(obj, record_id)

    def issue_session(self) -> str:
        """A valid session id, as an admin would paste into SALESFORCE_ACCESS_TOKEN."""
        session = f"00D000000000001!{secrets.token_urlsafe(24)}"
        with self._lock:
            self._sessions.add(session)
        return session

    def expire_sessions(self) -> None:
        """Every session id becomes invalid (the next data call answers INVALID_SESSION_ID)."""
        with self._lock:
            self._sessions.clear()

    # --- faults and records ---------------------------------------------------------------------
    def fail(self, fault: str, times: int = 1, *, after: int = 0) -> None:
        """Make the next `times` data API calls fail (one of FAULTS), once `after` more have
        been answered."""
        assert fault in FAULTS, fault
        with self._lock:
            self._faults.extend([None] * after + [fault] * times)

    def api_calls(self) -> list[Recorded]:
        """Calls of the REST data API (queries, sobjects), oldest first."""
        return [r for r in self.requests if r.path.startswith("/services/data/")]

    def logins(self) -> list[Recorded]:
        return [r for r in self.requests if not r.path.startswith("/services/data/")]

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # --- HTTP -----------------------------------------------------------------------------------
    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        soql = request.args.get("q")
        try:
            response = self._route(request)
        except SoqlError as exc:
            response = _errors(400, exc.code, exc.message)
        with self._lock:
            self.requests.append(
                Recorded(request.method, request.path, soql, response.status_code, time.time())
            )
        return response(environ, start_response)

    def _route(self, request: Request) -> Response:
        if request.method == "POST" and request.path.startswith("/services/Soap/u/"):
            return self._soap_login(request)
        if request.method == "POST" and request.path == "/services/oauth2/token":
            return self._token(request)
        match = _DATA.match(request.path)
        if not match:
            return _errors(404, "NOT_FOUND", "The requested resource does not exist")
        fault = self._next_fault()
        if fault == "HANG":
            self._stopping.wait(self.hang_seconds)
            return _errors(503, "SERVER_UNAVAILABLE", "hung")
        if fault:
            status, message = ERRORS[fault]
            return _errors(status, "UNKNOWN_EXCEPTION" if status == 500 else fault, message)
        auth = request.headers.get("Authorization", "")
        with self._lock:
            valid = auth.startswith("Bearer ") and auth[7:] in self._sessions
        if not valid:
            return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if float(match["version"]) > float(self.api_version):
            return _errors(404, "NOT_FOUND", "The requested resource does not exist")
        return self._data(request, match["rest"].rstrip("/"))

    def _data(self, request: Request, rest: str) -> Response:
        if rest == "query" and request.method == "GET":
            return _json(200, self.org.query(request.args.get("q", "")))
        parts = rest.split("/")
        if len(parts) < 2 or parts[0] != "sobjects" or parts[1] not in self.org.fields:
            return _errors(404, "NOT_FOUND", "The requested resource does not exist")
        obj = parts[1]
        if len(parts) == 2 and request.method == "POST":
            values = json.loads(request.get_data() or b"{}")
            if "Id" in values:
                return _errors(
                    400,
                    "INVALID_FIELD",
                    "The Id field should not be specified in the sobject data.",
                )
            for key in ("AccountId", "ContactId"):
                target = "Account" if key == "AccountId" else "Contact"
                if values.get(key) and self.org.get(target, values[key]) is None:
                    return _errors(
                        400,
                        "MALFORMED_ID",
                        f"{target} ID: id value of incorrect type: {values[key]}",
                        fields=[key],
                    )
            record_id = self.org.insert(obj, values)
            return _json(201, {"id": record_id, "success": True, "errors": []})
        if len(parts) == 3 and request.method == "PATCH":
            if not self.org.update(obj, parts[2], json.loads(request.get_data() or b"{}")):
                return _errors(404, "NOT_FOUND", "The requested resource does not exist")
            return Response(status=204)
        if len(parts) == 3 and request.method == "GET":
            record = self.org.get(obj, parts[2])
            if record is None:
                return _errors(404, "NOT_FOUND", "The requested resource does not exist")
            return _json(200, {"attributes": {"type": obj}, **record})
        return _errors(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{request.method}' not allowed")

    def _next_fault(self) -> str | None:
        with self._lock:
            return self._faults.pop(0) if self._faults else None

    def _soap_login(self, request: Request) -> Response:
        doc = minidom.parseString(request.get_data())

        def text(tag: str) -> str:
            nodes = doc.getElementsByTagName(tag)
            return nodes[0].firstChild.nodeValue if nodes and nodes[0].firstChild else ""

        username = text("n1:username") or text("urn:username")
        password = text("n1:password") or text("urn:password")
        if username != self.username or password != self.password + self.security_token:
            return Response(_SOAP_FAULT, status=500, content_type="text/xml")
        body = _SOAP_OK.format(url=self.url, version=self.api_version, session=self.issue_session())
        return Response(body, content_type="text/xml")

    def _token(self, request: Request) -> Response:
        if request.form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return _json(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant type not supported",
                },
            )
        try:
            claims = jwt.decode(
                request.form.get("assertion", ""),
                self.jwt_public_key or b"",
                algorithms=["RS256"],
                audience=self.url,
                issuer=self.consumer_key,
            )
        except (jwt.PyJWTError, ValueError):
            return _json(400, {"error": "invalid_grant", "error_description": "invalid assertion"})
        if claims.get("sub") != self.username:
            return _json(
                400,
                {
                    "error": "invalid_grant",
                    "error_description": "user hasn't approved this consumer",
                },
            )
        return _json(
            200,
            {
                "access_token": self.issue_session(),
                "scope": "api",
                "instance_url": self.url,
                "id": f"{self.url}/id/00D000000000001/005000000000001AAA",
                "token_type": "Bearer",
            },
        )


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def _errors(status: int, code: str, message: str, **extra: Any) -> Response:
    return _json(status, [{"message": message, "errorCode": code, **extra}])
