"""All outbound HTTP goes through here, with a timeout. Tests patch `post` only."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Response:
    status: int
    body: dict


class TransportError(Exception):
    """No answer: DNS, connection or timeout. Always worth retrying."""


def post(url: str, data: dict[str, str], *, auth: tuple[str, str] | None = None) -> Response:
    request = urllib.request.Request(  # noqa: S310 - https URLs built from settings, never from input
        url, data=urllib.parse.urlencode(data).encode(), method="POST"
    )
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
            return Response(answer.status, _json(answer.read()))
    except urllib.error.HTTPError as error:
        return Response(error.code, _json(error.read()))
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise TransportError(str(error)) from error


def _json(raw: bytes) -> dict:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
