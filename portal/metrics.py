"""Prometheus metrics at /metrics, written by prometheus-client.

Two kinds. What the database knows (reminders due, late, unknown; calls to each
provider; record-system messages waiting) is read at each scrape by collectors
the apps register here, so every web process answers the same. What only a web
process knows (how long its requests took) is a histogram it keeps; under
gunicorn, set PROMETHEUS_MULTIPROC_DIR to a folder shared by the workers and
prometheus-client adds theirs up. The page answers only with METRICS_TOKEN as a
bearer token, and is a 404 when none is set.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

REQUEST_SECONDS = Histogram(
    "marrow_request_seconds",
    "Time to answer a request, by the page's route name.",
    ["route", "method"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
# Whether a page that may be kept was served as kept or made afresh, by the page's route name:
# the hit rate of procedures.page_cache, which tells whether kept pages still carry the evening.
KEPT_PAGES = Counter(
    "marrow_kept_pages",
    "Requests for a page that may be kept: served as kept, or made afresh.",
    ["route", "outcome"],
)

_collectors: list[Collector] = []


def register(collector: Collector) -> None:
    """Add a collector read at each scrape (an app's, from its ready())."""
    if collector not in _collectors:
        _collectors.append(collector)


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(REQUEST_SECONDS)
        registry.register(KEPT_PAGES)
    for collector in _collectors:
        registry.register(collector)
    return registry


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not token or not hmac.compare_digest(given.encode(), token.encode()):
        raise Http404
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)


class RequestTiming:
    """Times every request into REQUEST_SECONDS (the route's name, never its address: no ids in labels)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        began = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = (match.view_name if match else "") or "unmatched"
        REQUEST_SECONDS.labels(route=route, method=request.method).observe(time.perf_counter() - began)
        return response
