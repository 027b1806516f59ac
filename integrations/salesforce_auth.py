"""How the app signs in to Salesforce: the three auth modes of SPEC §4.

- access token: `SALESFORCE_INSTANCE_URL` + `SALESFORCE_ACCESS_TOKEN` (no login; when the token
  expires, context is unavailable until it is replaced);
- username + password: `SALESFORCE_USERNAME` + `SALESFORCE_PASSWORD` (+ `SALESFORCE_SECURITY_TOKEN`
  unless the server's IP is trusted), through simple-salesforce's SOAP login;
- JWT bearer: `SALESFORCE_CONSUMER_KEY` + `SALESFORCE_PRIVATE_KEY_FILE` + `SALESFORCE_USERNAME`
  (the user the connected app acts as), through the OAuth 2.0 token endpoint.

`SALESFORCE_DOMAIN` is `login` (production), `test` (sandboxes), a My Domain prefix such as
`acme.my`, or a full `https://` URL (Government Cloud, or a local server in tests): the login
requests go to `https://<domain>.salesforce.com` in the first three cases, to the URL otherwise.
Secrets stay `SecretStr` until the moment they are sent, and are never logged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import requests
from pydantic import SecretStr

from integrations.salesforce import CrmUnavailable
from integrations.settings import ConfigError, Settings

if TYPE_CHECKING:
    from simple_salesforce import Salesforce

# simple-salesforce (with zeep and lxml) and PyJWT are imported where a session is made, not
# here: reading the settings must not load them, and a deployment without Salesforce
# (ACCOUNTS_FILE, or no CRM) keeps ~25 MB a process it would never use.

ACCESS_TOKEN = "access token"
PASSWORD = "username + password"
JWT_BEARER = "JWT bearer"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass(frozen=True)
class SalesforceAuth:
    """One way of getting a Salesforce session, read from the settings."""

    mode: str
    api_version: str
    login_url: str | None = None
    instance_url: str | None = None
    access_token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    consumer_key: str | None = None
    private_key_file: str | None = None

    @property
    def can_log_in(self) -> bool:
        """False for a bare access token: an expired one cannot be renewed by the app."""
        return self.mode != ACCESS_TOKEN

    @property
    def where(self) -> str:
        """Where it signs in (no secrets): for `triage doctor`."""
        return self.instance_url or self.login_url or "?"

    def connect(self, session: requests.Session) -> Salesforce:
        """A simple-salesforce client on `session`, logged in now unless a token was given."""
        from simple_salesforce import Salesforce
        from simple_salesforce.exceptions import SalesforceAuthenticationFailed

        if self.mode == ACCESS_TOKEN:
            assert self.access_token is not None and self.instance_url is not None
            return Salesforce(
                session_id=self.access_token.get_secret_value(),
                instance_url=self.instance_url,
                session=session,
                version=self.api_version,
            )
        try:
            session_id, instance = self._log_in(session)
        except SalesforceAuthenticationFailed as exc:
            raise CrmUnavailable(f"Salesforce login failed ({exc.code})") from None
        except requests.Timeout:
            raise CrmUnavailable("Salesforce did not answer the login", pause_seconds=30) from None
        except requests.RequestException as exc:
            raise CrmUnavailable(
                f"cannot reach Salesforce to log in ({type(exc).__name__})", pause_seconds=30
            ) from None
        # "Direct" mode: the client does not re-login by itself; the directory re-auths once.
        return Salesforce(
            session_id=session_id, instance=instance, session=session, version=self.api_version
        )

    def _log_in(self, session: requests.Session) -> tuple[str, str]:
        import jwt
        from simple_salesforce import SalesforceLogin
        from simple_salesforce.login import token_login

        assert self.login_url is not None and self.username is not None
        if self.mode == PASSWORD:
            assert self.password is not None
            token = self.security_token.get_secret_value() if self.security_token else ""
            return SalesforceLogin(
                username=self.username,
                password=self.password.get_secret_value(),
                security_token=token,
                sf_version=self.api_version,
                session=session,
                scratch_url=self.login_url,  # the SOAP endpoint under our login URL
            )
        assert self.consumer_key is not None and self.private_key_file is not None
        claims = {
            "iss": self.consumer_key,
            "sub": self.username,
            "aud": self.login_url,
            "exp": int(time.time()) + 180,
        }
        key = Path(self.private_key_file).read_bytes()
        assertion = jwt.encode(claims, key, algorithm="RS256")
        session_id, instance = token_login(
            f"{self.login_url}/services/oauth2/token",
            {"grant_type": JWT_GRANT, "assertion": assertion},
            self.login_url,
            self.consumer_key,
            None,
            None,
            session,
        )
        return str(session_id), str(instance)


def login_url(domain: str) -> str:
    """`login` → https://login.salesforce.com; a full URL is kept (without its last slash)."""
    if domain.startswith(("https://", "http://")):
        return domain.rstrip("/")
    return f"https://{domain}.salesforce.com"


def auth_from_settings(settings: Settings) -> SalesforceAuth | None:
    """The configured auth mode, None when no Salesforce setting is set at all.

    A half-configured mode is a ConfigError naming the missing variable, so `triage serve`
    fails at start instead of every card saying "context unavailable".
    """
    s = settings
    version = s.salesforce_api_version.removeprefix("v")
    if s.salesforce_instance_url or s.salesforce_access_token:
        _need(s, "salesforce_instance_url", "salesforce_access_token")
        return SalesforceAuth(
            ACCESS_TOKEN,
            version,
            instance_url=s.salesforce_instance_url,
            access_token=s.salesforce_access_token,
        )
    if s.salesforce_consumer_key or s.salesforce_private_key_file:
        _need(s, "salesforce_consumer_key", "salesforce_private_key_file", "salesforce_username")
        assert s.salesforce_private_key_file is not None
        if not Path(s.salesforce_private_key_file).is_file():
            raise ConfigError(
                "SALESFORCE_PRIVATE_KEY_FILE is invalid: no such file: "
                f"{s.salesforce_private_key_file}"
            )
        return SalesforceAuth(
            JWT_BEARER,
            version,
            login_url=login_url(s.salesforce_domain),
            username=s.salesforce_username,
            consumer_key=s.salesforce_consumer_key,
            private_key_file=s.salesforce_private_key_file,
        )
    if s.salesforce_username or s.salesforce_password or s.salesforce_security_token:
        _need(s, "salesforce_username", "salesforce_password")
        return SalesforceAuth(
            PASSWORD,
            version,
            login_url=login_url(s.salesforce_domain),
            username=s.salesforce_username,
            password=s.salesforce_password,
            security_token=s.salesforce_security_token,
        )
    return None


_MODES = {
    "salesforce_instance_url": "an access token needs SALESFORCE_INSTANCE_URL too",
    "salesforce_access_token": "SALESFORCE_INSTANCE_URL needs SALESFORCE_ACCESS_TOKEN",
    "salesforce_consumer_key": "JWT bearer auth needs the connected app's consumer key",
    "salesforce_private_key_file": "JWT bearer auth needs the private key of the connected app's "
    "certificate",
    "salesforce_username": "the Salesforce user to act as (needed for password and JWT auth)",
    "salesforce_password": "username + password auth needs the user's password",
}


def _need(settings: Settings, *names: str) -> None:
    for name in names:
        value = getattr(settings, name)
        if value is None or (isinstance(value, SecretStr) and not value.get_secret_value()):
            raise ConfigError(f"{name.upper()} is not set: {_MODES[name]}")
