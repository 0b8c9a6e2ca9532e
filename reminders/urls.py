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

# Mounted by the project's URLconf into the nurse and family namespaces, next to procedures' pages.
nurse_patterns = [
    path("outbox/", views.outbox, name="outbox"),
    path("reminders/<id:pk>/resend/", views.resend, name="reminder_resend"),
    path("guardians/<id:pk>/", views.guardian_detail, name="guardian_detail"),
    path("guardians/<id:pk>/text-consent/", views.guardian_sms_consent, name="guardian_sms_consent"),
    path("texts/<id:pk>/answered/", views.inbound_text_answered, name="inbound_text_answered"),
]

family_patterns = [
    path("preferences/", views.preferences, name="preferences"),
    path("text-reminders/", views.text_question, name="text_question"),
    path("procedures/<id:pk>/reply/", views.procedure_reply, name="procedure_reply"),
]

# Short links for texts, mounted at the site's root: every character of a text is paid for.
short_patterns = [
    path("v/<id:pk>", views.short_procedure, name="short_procedure"),
    path("c/<id:pk>", views.short_check_in, name="short_check_in"),
]
