from __future__ import annotations

from django.urls import path

from . import views, webhooks

webhook_patterns = (
    [
        path("twilio/status/", webhooks.twilio_status, name="twilio_status"),
        path("twilio/inbound/", webhooks.twilio_inbound, name="twilio_inbound"),
    ],
    "reminders",
)

staff_patterns = [
    path("outbox/", views.outbox, name="outbox"),
    path("reminders/<id:pk>/resend/", views.resend, name="reminder_resend"),
]
