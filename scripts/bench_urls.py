"""The portal's URLs plus two bare pages, for scripts/bench_pages.py only.

Both bare pages pass through the same middleware as every page. The first never
touches the session; the second asks who is signed in, so the session and the
user are loaded as on any signed-in page.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from portal.urls import urlpatterns as portal_urlpatterns


def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


def bare_signed_in(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok" if request.user.is_authenticated else b"anonymous", content_type="text/plain")


urlpatterns = [
    path("bench/bare/", bare, name="bench_bare"),
    path("bench/session/", bare_signed_in, name="bench_session"),
    *portal_urlpatterns,
]
