"""An id in a URL that no row can have (0, too large for a bigint) is a 404 like any missing row."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import ResolverMatch, resolve, reverse

from portal import audit
from portal.models import AuditEvent

IMPOSSIBLE_IDS = ["0", "9223372036854775808", "18446744073709551616", "9" * 40]


NURSE_PAGES = ["/nurse/procedures/{}/", "/nurse/patients/{}/edit/", "/nurse/reminders/{}/resend/"]


@pytest.mark.parametrize("raw", IMPOSSIBLE_IDS)
@pytest.mark.parametrize("pattern", NURSE_PAGES)
def test_a_nurse_asking_for_an_impossible_id_gets_a_404(client, nurse, pattern, raw):
    client.force_login(nurse)
    assert client.get(pattern.format(raw)).status_code == 404


@pytest.mark.parametrize("raw", IMPOSSIBLE_IDS)
def test_a_family_asking_for_an_impossible_id_gets_a_404(client, guardian, procedure, raw):
    client.force_login(guardian.user)
    assert client.get(f"/family/procedures/{raw}/").status_code == 404
    assert client.post(f"/family/procedures/{procedure.pk}/questions/{raw}/delete/").status_code == 404


def test_the_largest_bigint_is_still_an_ordinary_missing_row(client, nurse):
    client.force_login(nurse)
    assert client.get(reverse("nurse:procedure_detail", args=[2**63 - 1])).status_code == 404
    assert AuditEvent.objects.get(route="nurse:procedure_detail").object_id == 2**63 - 1  # recorded as denied access


def test_the_audit_log_never_fails_a_request_over_an_id_it_cannot_store(nurse):
    request = RequestFactory().get("/nurse/procedures/x/")
    request.user = nurse
    view = resolve(reverse("nurse:procedure_detail", args=[1])).func  # the real view: it declares what it shows
    request.resolver_match = ResolverMatch(view, (), {"pk": 2**64}, url_name="procedure_detail",
                                           namespaces=["nurse"])  # fmt: skip
    audit.record(request, HttpResponse(status=404))
    assert AuditEvent.objects.get(route="nurse:procedure_detail").object_id is None
