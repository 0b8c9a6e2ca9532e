"""SMART Backend Services: a signed JWT for a short-lived access token, scopes enforced.

Keys are made here with cryptography; a client's published key set is served by a
real HTTP server on a local port, as a hospital's would be.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from procedures.feed import smart
from procedures.feed.models import ApiToken, SendingSystem
from procedures.models import Procedure

from .test_fhir_endpoint import appointment, bundle, entry_status

CLIENT_ID = "lakeside-backend-7f3a"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(private: Any, kid: str) -> dict[str, Any]:
    algorithm = RSAAlgorithm if isinstance(private, rsa.RSAPrivateKey) else ECAlgorithm
    public = algorithm.to_jwk(private.public_key(), as_dict=True)
    return {**public, "kid": kid, "use": "sig", "alg": "RS384" if algorithm is RSAAlgorithm else "ES384"}


@pytest.fixture
def rsa_private() -> rsa.RSAPrivateKey:
    return rsa_key()


@pytest.fixture
def backend(epic, rsa_private) -> SendingSystem:
    epic.smart_client_id = CLIENT_ID
    epic.smart_jwks = {"keys": [jwk(rsa_private, "rsa-1")]}
    epic.save()
    return epic


def assertion(
    private: Any, *, kid: str = "rsa-1", alg: str = "RS384", headers: dict | None = None, **claims: Any
) -> str:
    now = int(time.time())
    body = {
        "iss": CLIENT_ID,
        "sub": CLIENT_ID,
        "aud": smart.token_url(),
        "exp": now + 240,
        "jti": str(uuid.uuid4()),
        **claims,
    }
    body = {name: value for name, value in body.items() if value is not None}
    return jwt.encode(body, private, algorithm=alg, headers={"kid": kid, "typ": "JWT", **(headers or {})})


def ask(client, signed: str, *, scope: str = "system/Appointment.read system/Appointment.write", **form: str):
    data = {
        "grant_type": "client_credentials",
        "client_assertion_type": smart.ASSERTION_TYPE,
        "client_assertion": signed,
        "scope": scope,
        **form,
    }
    response = client.post(
        "/fhir/auth/token", data=urllib.parse.urlencode(data), content_type="application/x-www-form-urlencoded"
    )
    return response, json.loads(response.content)


def refused(client, signed: str, error: str = "invalid_client", **form: str) -> str:
    response, body = ask(client, signed, **form)
    assert response.status_code == (401 if error == "invalid_client" else 400), body
    assert body["error"] == error, body
    return body["error_description"]


def test_discovery_names_the_token_endpoint(client):
    body = json.loads(client.get("/fhir/.well-known/smart-configuration").content)
    assert body["token_endpoint"] == smart.token_url()
    assert body["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert set(body["token_endpoint_auth_signing_alg_values_supported"]) == {"RS384", "ES384"}
    assert "client-confidential-asymmetric" in body["capabilities"]


def test_a_signed_assertion_gets_a_short_lived_token_that_books(client, backend, rsa_private, clinic):
    response, body = ask(client, assertion(rsa_private))
    assert response.status_code == 200, body
    assert response["Cache-Control"] == "no-store"
    assert body["token_type"] == "bearer" and body["expires_in"] == 300
    assert body["scope"] == "system/Appointment.read system/Appointment.write"
    row = ApiToken.find_active(body["access_token"])
    assert row.system == backend and row.expires_at is not None
    assert body["access_token"] not in json.dumps(list(ApiToken.objects.values()), default=str)

    answer = client.post(
        "/fhir/",
        data=bundle(appointment(patient_ref="urn:uuid:pat-1")),
        content_type="application/fhir+json",
        HTTP_AUTHORIZATION=f"Bearer {body['access_token']}",
    )
    assert answer.status_code == 200 and entry_status(json.loads(answer.content)) == "201 Created"
    assert Procedure.objects.count() == 1

    # Five minutes on, the access token is no longer taken; a static token has no such end.
    with time_machine.travel(dt.datetime.now(tz=dt.UTC) + dt.timedelta(seconds=301)):
        late = client.get("/fhir/Appointment", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert late.status_code == 401 and 'error="invalid_token"' in late["WWW-Authenticate"]


def test_refusals_say_why(client, backend, rsa_private):
    stranger = rsa_key()
    assert "signature does not match" in refused(client, assertion(stranger))  # right kid, wrong key
    assert "expired" in refused(client, assertion(rsa_private, exp=int(time.time()) - 60))
    assert "five minutes" in refused(client, assertion(rsa_private, exp=int(time.time()) + 600))
    assert "aud must be" in refused(client, assertion(rsa_private, aud="https://ehr.example/oauth2/token"))
    assert "aud must be" in refused(client, assertion(rsa_private, aud=smart.token_url().replace("auth/token", "")))
    assert "No active client" in refused(client, assertion(rsa_private, iss="someone-else", sub="someone-else"))
    assert "sub must be" in refused(client, assertion(rsa_private, sub="another"))
    assert "jti" in refused(client, assertion(rsa_private, jti=None))
    assert "No registered key has kid" in refused(client, assertion(rsa_private, kid="rsa-9"))
    assert "RS384 or ES384" in refused(client, assertion(rsa_private, alg="RS256"))
    assert "RS384 or ES384" in refused(client, jwt.encode({"iss": CLIENT_ID}, "s" * 48, algorithm="HS384"))
    assert "not a JWT" in refused(client, "not.a.jwt")
    assert "jku" in refused(client, assertion(rsa_private, headers={"jku": "https://evil.example/jwks"}))

    # The same assertion twice: the second is a replay.
    once = assertion(rsa_private)
    assert ask(client, once)[0].status_code == 200
    assert "used before" in refused(client, once)

    refused(client, assertion(rsa_private), "unsupported_grant_type", grant_type="authorization_code")
    refused(client, assertion(rsa_private), "invalid_request", client_assertion_type="client_secret")
    assert "can be granted" in refused(client, assertion(rsa_private), "invalid_scope", scope="patient/*.read")
    backend.is_active = False
    backend.save()
    assert "No active client" in refused(client, assertion(rsa_private))


def test_scopes_are_enforced(client, backend, rsa_private):
    _, body = ask(client, assertion(rsa_private), scope="system/Appointment.read")
    assert body["scope"] == "system/Appointment.read"
    reader = f"Bearer {body['access_token']}"
    assert client.get("/fhir/Appointment", HTTP_AUTHORIZATION=reader).status_code == 200
    denied = client.post(
        "/fhir/Appointment", data="{}", content_type="application/fhir+json", HTTP_AUTHORIZATION=reader
    )
    assert denied.status_code == 403 and 'error="insufficient_scope"' in denied["WWW-Authenticate"]
    assert json.loads(denied.content)["issue"][0]["code"] == "forbidden"

    # SMART v2 letters: c/u/d write, r/s read.
    _, body = ask(client, assertion(rsa_private), scope="system/Appointment.cud")
    writer = f"Bearer {body['access_token']}"
    assert client.get("/fhir/Appointment", HTTP_AUTHORIZATION=writer).status_code == 403

    # A client registered for reading only is not granted writing.
    backend.smart_scopes = "system/Appointment.read"
    backend.save()
    _, body = ask(client, assertion(rsa_private), scope="system/Appointment.read system/Appointment.write")
    assert body["scope"] == "system/Appointment.read"
    assert "can be granted" in refused(
        client, assertion(rsa_private), "invalid_scope", scope="system/Appointment.write"
    )


class _KeySet(http.server.BaseHTTPRequestHandler):
    keys: list[dict[str, Any]] = []
    served = 0

    def do_GET(self) -> None:
        type(self).served += 1
        body = json.dumps({"keys": type(self).keys}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def key_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _KeySet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    smart._jwks_cache.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()
    server.server_close()
    smart._jwks_cache.clear()


def test_es384_with_a_published_key_set_and_rotation(client, epic, key_server):
    first = ec.generate_private_key(ec.SECP384R1())
    _KeySet.keys, _KeySet.served = [jwk(first, "ec-1")], 0
    epic.smart_client_id, epic.smart_jwks_url = CLIENT_ID, key_server
    epic.save()

    response, body = ask(client, assertion(first, kid="ec-1", alg="ES384", headers={"jku": key_server}))
    assert response.status_code == 200, body
    assert ask(client, assertion(first, kid="ec-1", alg="ES384"))[0].status_code == 200
    assert _KeySet.served == 1  # kept for a while, not fetched for every token

    # The client rotates: a kid not seen yet makes us read the key set again.
    second = ec.generate_private_key(ec.SECP384R1())
    _KeySet.keys = [jwk(first, "ec-1"), jwk(second, "ec-2")]
    assert ask(client, assertion(second, kid="ec-2", alg="ES384"))[0].status_code == 200
    assert _KeySet.served == 2
    # An RSA signature under an EC key's kid is refused.
    assert "not a key for RS384" in refused(client, assertion(rsa_key(), kid="ec-2", alg="RS384"))

    epic.smart_jwks_url = "http://127.0.0.1:9/jwks.json"  # nothing listens there
    epic.save()
    assert "could not be read" in refused(client, assertion(second, kid="ec-3", alg="ES384"))


def test_the_whole_round_through_a_live_server(live_server, backend, rsa_private, clinic):
    form = urllib.parse.urlencode(
        {
            "grant_type": "client_credentials",
            "client_assertion_type": smart.ASSERTION_TYPE,
            "client_assertion": assertion(rsa_private),
            "scope": "system/Appointment.write system/Appointment.read",
        }
    ).encode()
    request = urllib.request.Request(f"{live_server.url}/fhir/auth/token", data=form, method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own test server
        token = json.loads(response.read())["access_token"]
    request = urllib.request.Request(  # noqa: S310
        f"{live_server.url}/fhir/",
        data=bundle(appointment(patient_ref="urn:uuid:pat-1")).encode(),
        method="POST",
        headers={"Content-Type": "application/fhir+json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        assert entry_status(json.loads(response.read())) == "201 Created"
    search = urllib.request.Request(  # noqa: S310
        f"{live_server.url}/fhir/Appointment?patient=Patient/pat-77", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(search, timeout=30) as response:  # noqa: S310
        assert json.loads(response.read())["total"] == 1
