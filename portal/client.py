"""The client's address, by one rule for the audit log, the rate limits and the login lockout.

Not behind a proxy: REMOTE_ADDR only; an X-Forwarded-For header is the client's own words.
Behind our proxy (BEHIND_PROXY): the address the proxy appended to X-Forwarded-For, the
right-most entry; anything left of it came from the client and may be forged. Without
the header (a health check from inside the network), REMOTE_ADDR.

django-axes is pointed at `client_ip` (AXES_CLIENT_IP_CALLABLE), so a lockout and the
audit row for the same request always name the same address.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ipware import get_client_ip


def client_ip(request: HttpRequest) -> str | None:
    if settings.BEHIND_PROXY:
        # No proxy between the client and the entry ours appended (proxy_count=0): the last one.
        # Not strict: a forged, longer chain still yields that entry instead of being refused.
        forwarded, _ = get_client_ip(
            request,
            proxy_order="left-most",
            proxy_count=0,
            request_header_order=("HTTP_X_FORWARDED_FOR",),
            strict=False,
            algorithm="modern",
        )
        if forwarded is not None:
            return forwarded
    address, _ = get_client_ip(request, request_header_order=("REMOTE_ADDR",), algorithm="modern")
    return address
