"""TLS for MLLP with the standard library's `ssl`: the listener's context and the sender's.

MLLP has no security of its own; the usual answer (IHE ITI TF-2 "Secure node", and what
interface engines offer as "MLLP over TLS") is TLS on the same TCP connection, the listener
presenting a certificate and, when asked to, requiring one signed by a CA it trusts.
"""

from __future__ import annotations

import ssl

from django.core.exceptions import ImproperlyConfigured


def server_context(*, cert: str, key: str = "", client_ca: str = "") -> ssl.SSLContext:
    """The listener's context: its certificate chain and key; with `client_ca`, a client
    certificate signed by that CA is required and any other client is refused in the handshake."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key or None)
        if client_ca:
            context.load_verify_locations(cafile=client_ca)
            context.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise ImproperlyConfigured(f"MLLP TLS: cannot load the certificate, key or client CA: {exc}") from exc
    return context


def client_context(*, ca: str = "", cert: str = "", key: str = "") -> ssl.SSLContext:
    """A sender's context: the listener's certificate checked against `ca` (else the system's CAs)
    and its name; `cert`/`key` are this sender's own certificate, for a listener that asks for one."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert:
        context.load_cert_chain(cert, key or None)
    return context


def from_settings(*, cert: str, key: str, client_ca: str) -> ssl.SSLContext | None:
    if not cert:
        if key or client_ca:
            raise ImproperlyConfigured("MLLP TLS: a key or client CA was given without a certificate (--tls-cert).")
        return None
    return server_context(cert=cert, key=key, client_ca=client_ca)
