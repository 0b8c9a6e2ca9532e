"""Every page's icon is there: no 404 for /favicon.ico on each page a browser opens, the admin's included."""

from __future__ import annotations

from django.urls import reverse


def test_favicon_ico_is_served_from_the_site_root(client, db):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file's header
    assert response["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")


def test_pages_name_their_icon(client, db):
    page = client.get(reverse("login")).content.decode()
    assert '<link rel="icon" href="/favicon.ico"' in page
    assert 'href="/static/img/favicon.svg" type="image/svg+xml"' in page
