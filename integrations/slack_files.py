"""Downloading a file a customer shared, from Slack's `url_private` (needs `files:read`).

Slack serves `url_private` only with `Authorization: Bearer <bot token>`; without a token it
can use, it redirects to its sign-in page, so a redirect or an HTML answer means "not
allowed", never a file. The token is only ever sent to Slack itself: to a Slack domain over
HTTPS, or to the origin of `SLACK_API_URL` (GovSlack, or the local emulator).
Bounded: a size limit (checked before and while reading) and a deadline for the whole file.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import requests

_SLACK_DOMAINS = (".slack.com", ".slack-gov.com")


class FileUnavailable(Exception):
    """The file could not be downloaded; `str(exc)` says why, in words for the card."""


def is_slack_url(url: str, api_url: str) -> bool:
    """Whether `url` is Slack's (so it may receive a bot token)."""
    target, api = urlsplit(url), urlsplit(api_url)
    if (target.scheme, target.netloc) == (api.scheme, api.netloc):
        return True
    host = target.hostname or ""
    return target.scheme == "https" and host.endswith(_SLACK_DOMAINS)


def download_private(
    url: str, *, token: str, api_url: str, max_bytes: int, timeout: float
) -> tuple[bytes, str]:
    """The file's bytes and the Content-Type Slack gave, or FileUnavailable with the reason."""
    if not is_slack_url(url, api_url):
        raise FileUnavailable("its link is not on Slack, so no token was sent")
    deadline = time.monotonic() + timeout
    try:
        # No redirects: Slack redirects to its sign-in page when the token may not read files.
        with requests.get(
            url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            stream=True,
            allow_redirects=False,
        ) as response:
            if response.is_redirect or "text/html" in response.headers.get("Content-Type", ""):
                raise FileUnavailable(
                    "Slack refused the app's token (reinstall the app to grant files:read)"
                )
            if response.status_code != 200:
                raise FileUnavailable(f"Slack answered HTTP {response.status_code}")
            if int(response.headers.get("Content-Length") or 0) > max_bytes:
                raise FileUnavailable(f"it is larger than {_megabytes(max_bytes)}")
            body = bytearray()
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > max_bytes:
                    raise FileUnavailable(f"it is larger than {_megabytes(max_bytes)}")
                if time.monotonic() > deadline:
                    raise FileUnavailable(f"the download took longer than {timeout:g} s")
            return bytes(body), response.headers.get("Content-Type", "")
    except requests.Timeout:
        raise FileUnavailable(f"the download took longer than {timeout:g} s") from None
    except requests.RequestException as exc:
        raise FileUnavailable(f"the download failed ({type(exc).__name__})") from None


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:g} MB"
