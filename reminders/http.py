"""All outbound HTTP goes through here, with a timeout. Tests patch `post` only."""

from __future__ import annotations

import base64
import http.client
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
    """The request did not get through: DNS, refused connection, or it broke while being sent.

    The provider never had a whole request, so trying again cannot make a copy.
    """


class NoAnswer(Exception):
    """The whole request went out but no answer came back (timeout, dropped connection).

    The provider may or may not have acted on it: find out before sending again.
    """


def post(url: str, data: dict[str, str], *, auth: tuple[str, str] | None = None) -> Response:
    request = urllib.request.Request(  # noqa: S310 - https URLs built from settings, never from input
        url, data=urllib.parse.urlencode(data).encode(), method="POST"
    )
    return _call(request, auth)


def get(url: str, params: dict[str, str], *, auth: tuple[str, str] | None = None) -> Response:
    request = urllib.request.Request(url + "?" + urllib.parse.urlencode(params), method="GET")  # noqa: S310
    return _call(request, auth)


def _call(request: urllib.request.Request, auth: tuple[str, str] | None) -> Response:
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
            return Response(answer.status, _json(answer.read()))
    except urllib.error.HTTPError as error:
        return Response(error.code, _json(error.read()))
    except urllib.error.URLError as error:
        # urllib wraps what fails while connecting and sending the request.
        raise TransportError(str(error.reason)) from error
    except (TimeoutError, OSError, http.client.HTTPException) as error:
        # Raised while waiting for the answer: the request itself had gone out.
        raise NoAnswer(str(error) or type(error).__name__) from error


def _json(raw: bytes) -> dict:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
