"""What procedures answers when accounts ask (portal.events). Connected in ProceduresConfig.ready()."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from portal import events


def start_page(sender: Any, *, user: Any, **_: Any) -> tuple[int, str] | None:
    if user.is_care_team:
        return (0, reverse("nurse:dashboard"))
    return (0, reverse("family:dashboard"))


def connect() -> None:
    events.landing.connect(start_page, dispatch_uid="procedures")
