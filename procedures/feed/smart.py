"""SMART Backend Services: a record system's FHIR client gets a short-lived access token.

OAuth 2.0 client credentials, the client authenticated by a JWT it signs with its
private key (RFC 7523, SMART's "client-confidential-asymmetric"), the way Epic and
Cerner connect system to system:

- `grant_type=client_credentials`, `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`,
  `client_assertion=<JWT>`, `scope=system/Appointment.write …`;
- the JWT: `alg` RS384 or ES384, `kid` naming one of the client's registered public keys
  (the JWKS pasted in the admin, or fetched from its registered address; a `jku`
  header must be that address), `iss` = `sub` = the client id, `aud` = our token
  URL, `exp` at most five minutes ahead, a `jti` never used before.

The access token is an `ApiToken` row (only its hash kept) that expires after
`ACCESS_TOKEN_SECONDS` and carries the scopes granted. Static per-system tokens
stay the simple option: they carry every scope.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jwt
from django.db import IntegrityError, transaction
from django.utils import timezone

from .fhir import fhir_base
from .models import ApiToken, AssertionUse, SendingSystem

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ("RS384", "ES384")
KEY_TYPES = {"RS384": "RSA", "ES384": "EC"}
MAX_ASSERTION_SECONDS = 300
LEEWAY_SECONDS = 5  # clocks a little apart
ACCESS_TOKEN_SECONDS = 300
JWKS_CACHE_SECONDS = 300
JWKS_MAX_BYTES = 64 * 1024
READ, WRITE = "read", "write"


def token_url() -> str:
    return f"{fhir_base()}auth/token"


class TokenError(Exception):
    """An OAuth error answer (RFC 6749 section 5.2)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class Grant:
    token: str
    scope: str
    expires_in: int


# --- scopes -----------------------------------------------------------------------------------------


def _actions(scope: str) -> set[str]:
    """What one SMART scope allows on Appointments: v1 (.read .write .*) or v2 (.cruds letters)."""
    context, _, rest = scope.partition("/")
    resource, _, permission = rest.partition(".")
    if context != "system" or resource not in ("Appointment", "*"):
        return set()
    permission = permission.partition("?")[0]
    if permission in ("read", "write", "*"):
        return {READ, WRITE} if permission == "*" else {permission}
    if permission and set(permission) <= set("cruds"):
        actions = set()
        if set(permission) & set("rs"):
            actions.add(READ)
        if set(permission) & set("cud"):
            actions.add(WRITE)
        return actions
    return set()


def allows(scopes: str, action: str) -> bool:
    """Whether a token's scopes allow reading or writing Appointments ("" is a static token: all)."""
    if not scopes:
        return True
    return any(action in _actions(scope) for scope in scopes.split())


def _grant_scopes(requested: str, allowed: str) -> str:
    may = {action for scope in allowed.split() for action in _actions(scope)}
    granted = [scope for scope in requested.split() if _actions(scope) and _actions(scope) <= may]
    if not granted:
        raise TokenError(
            "invalid_scope",
            f"None of the scopes asked for ({requested or 'none'}) can be granted; this client may have: {allowed}.",
        )
    return " ".join(dict.fromkeys(granted))


# --- keys -------------------------------------------------------------------------------------------

_jwks_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_jwks_lock = threading.Lock()


def fetch_jwks(url: str) -> dict[str, Any]:
    """The client's published key set: the one call to the outside world, with a timeout and a size limit."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - an admin's https URL
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            body = response.read(JWKS_MAX_BYTES + 1)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise TokenError("invalid_client", f"The key set at {url} could not be read: {exc}.") from None
    if len(body) > JWKS_MAX_BYTES:
        raise TokenError("invalid_client", f"The key set at {url} is larger than {JWKS_MAX_BYTES} bytes.")
    try:
        data = json.loads(body)
    except ValueError:
        raise TokenError("invalid_client", f"The key set at {url} is not JSON.") from None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise TokenError("invalid_client", f"The key set at {url} has no keys.")
    return data


def _published(url: str, *, fresh: bool) -> dict[str, Any]:
    with _jwks_lock:
        kept = _jwks_cache.get(url)
    if kept is not None and not fresh and time.monotonic() - kept[0] < JWKS_CACHE_SECONDS:
        return kept[1]
    data = fetch_jwks(url)
    with _jwks_lock:
        _jwks_cache[url] = (time.monotonic(), data)
    return data


def _key_sets(system: SendingSystem, jku: str | None) -> Iterator[dict[str, Any]]:
    """Where the client's keys may be: the set pasted in the admin, then the published one (fetched
    afresh once more if the key is not found: the client may have rotated its keys)."""
    if system.smart_jwks and not jku:
        yield system.smart_jwks
    if system.smart_jwks_url:
        yield _published(system.smart_jwks_url, fresh=False)
        yield _published(system.smart_jwks_url, fresh=True)


def _key(system: SendingSystem, header: dict[str, Any]) -> Any:
    alg, kid, jku = header["alg"], header.get("kid"), header.get("jku")
    if not kid:
        raise TokenError("invalid_client", "The assertion's header names no kid (which of the client's keys).")
    if jku and jku != system.smart_jwks_url:
        raise TokenError("invalid_client", f"jku {jku} is not the key set address registered for this client.")
    if not system.smart_jwks and not system.smart_jwks_url:
        raise TokenError("invalid_client", "No public key is registered for this client.")
    for key_set in _key_sets(system, jku):
        for candidate in key_set.get("keys", []):
            if not isinstance(candidate, dict) or candidate.get("kid") != kid:
                continue
            if candidate.get("kty") != KEY_TYPES[alg]:
                raise TokenError("invalid_client", f"Key {kid} is not a key for {alg}.")
            try:
                return jwt.PyJWK(candidate, algorithm=alg).key
            except jwt.PyJWTError as exc:
                raise TokenError("invalid_client", f"Key {kid} cannot be read: {exc}.") from None
    raise TokenError("invalid_client", f"No registered key has kid {kid}.")


# --- the token endpoint -----------------------------------------------------------------------------


def _claims(assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise TokenError("invalid_client", f"client_assertion is not a JWT: {exc}.") from None
    if header.get("alg") not in ALGORITHMS:
        raise TokenError("invalid_client", f"alg {header.get('alg')} is not taken: sign with RS384 or ES384.")
    return header, claims


def issue(form: dict[str, str]) -> Grant:
    """Check a token request and issue an access token, or raise TokenError."""
    if form.get("grant_type") != "client_credentials":
        raise TokenError("unsupported_grant_type", "grant_type must be client_credentials.")
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        raise TokenError("invalid_request", f"client_assertion_type must be {ASSERTION_TYPE}.")
    assertion = form.get("client_assertion", "")
    if not assertion:
        raise TokenError("invalid_request", "client_assertion (the signed JWT) is missing.")
    header, unverified = _claims(assertion)
    client_id = unverified.get("iss")
    system = (
        SendingSystem.objects.filter(smart_client_id=client_id, is_active=True).first()
        if isinstance(client_id, str) and client_id
        else None
    )
    if system is None:
        raise TokenError("invalid_client", f"No active client is registered with client id {client_id}.")
    key = _key(system, header)
    try:
        claims = jwt.decode(
            assertion,
            key,
            algorithms=[header["alg"]],
            audience=token_url(),
            issuer=system.smart_client_id,
            leeway=LEEWAY_SECONDS,
            options={"require": ["iss", "sub", "aud", "exp", "jti"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("invalid_client", "The assertion has expired (exp).") from None
    except jwt.InvalidAudienceError:
        raise TokenError("invalid_client", f"aud must be this token endpoint, {token_url()}.") from None
    except jwt.InvalidSignatureError:
        raise TokenError("invalid_client", "The assertion's signature does not match the client's key.") from None
    except jwt.PyJWTError as exc:
        raise TokenError("invalid_client", f"The assertion is not valid: {exc}.") from None
    if claims["sub"] != system.smart_client_id:
        raise TokenError("invalid_client", "sub must be the client id, as iss is.")
    now = timezone.now()
    expires = dt.datetime.fromtimestamp(claims["exp"], tz=dt.UTC)
    if expires > now + dt.timedelta(seconds=MAX_ASSERTION_SECONDS + LEEWAY_SECONDS):
        raise TokenError(
            "invalid_client", "exp is more than five minutes ahead: make a new assertion for each request."
        )
    scope = _grant_scopes(form.get("scope", ""), system.smart_scopes)
    with transaction.atomic():
        AssertionUse.objects.filter(expires_at__lt=now - dt.timedelta(seconds=LEEWAY_SECONDS)).delete()
        ApiToken.objects.filter(expires_at__lt=now - dt.timedelta(days=1)).delete()
        try:
            with transaction.atomic():
                AssertionUse.objects.create(system=system, jti=str(claims["jti"])[:255], expires_at=expires)
        except IntegrityError:
            raise TokenError("invalid_client", "This assertion (its jti) was used before: sign a new one.") from None
        row = ApiToken(
            system=system,
            label="SMART access token",
            scopes=scope,
            expires_at=now + dt.timedelta(seconds=ACCESS_TOKEN_SECONDS),
        )
        token = row.set_new_token()
        row.save()
    return Grant(token=token, scope=scope, expires_in=ACCESS_TOKEN_SECONDS)


def configuration() -> dict[str, Any]:
    """/.well-known/smart-configuration: what a SMART client discovers before asking for a token."""
    return {
        "issuer": fhir_base().rstrip("/"),
        "token_endpoint": token_url(),
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": list(ALGORITHMS),
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": [
            "system/Appointment.read",
            "system/Appointment.write",
            "system/Appointment.rs",
            "system/Appointment.cud",
            "system/Appointment.cruds",
        ],
        "capabilities": ["client-confidential-asymmetric", "permission-v1", "permission-v2"],
    }
