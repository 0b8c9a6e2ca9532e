"""The portal's URLs plus three pages to compare with, for scripts/bench_pages.py only.

All pass through the same middleware as every page. The bare page never touches
the session; the signed-in bare page asks who is signed in, so the session and
the user are loaded as on any signed-in page. The empty page is the least any
page of the portal costs: signed in, written to the audit log, and the site's
frame (base.html, its menu, footer and the family's clinic phones) around one line.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import path

from portal.audit import audited
from portal.urls import urlpatterns as portal_urlpatterns

EMPTY = engines["django"].from_string('{% extends "base.html" %}{% block content %}<p>ok</p>{% endblock %}')


def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


def bare_signed_in(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok" if request.user.is_authenticated else b"anonymous", content_type="text/plain")


@audited()
@login_required
def empty_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(EMPTY.render({}, request))


urlpatterns = [
    path("bench/bare/", bare, name="bench_bare"),
    path("bench/session/", bare_signed_in, name="bench_session"),
    path("bench/empty/", empty_page, name="bench_empty"),
    *portal_urlpatterns,
]
