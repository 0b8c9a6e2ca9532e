"""Included into the nurse pages (namespace "nurse")."""

from __future__ import annotations

from django.urls import path, re_path

from . import views

urlpatterns = [
    path("", views.message_list, name="feed_message_list"),
    path("<id:pk>/", views.message_detail, name="feed_message_detail"),
    path("<id:pk>/try-again/", views.message_retry, name="feed_message_retry"),
    path("<id:pk>/dismiss/", views.message_dismiss, name="feed_message_dismiss"),
]

# Mounted at /fhir/ in portal/urls.py.
fhir_patterns = (
    [
        path("", views.fhir_bundle, name="bundle"),
        path("metadata", views.fhir_metadata, name="metadata"),
        path(".well-known/smart-configuration", views.smart_configuration, name="smart_configuration"),
        path("auth/token", views.smart_token, name="token"),
        path("Appointment", views.fhir_appointment, name="appointment"),
        path("Appointment/<str:pk>", views.fhir_appointment_instance, name="appointment_instance"),
        path("Appointment/<str:pk>/_history/<str:version>", views.fhir_appointment_version, name="appointment_version"),
        # Anything else under /fhir/ answers an OperationOutcome, never the portal's HTML page.
        re_path(r"^(?P<path>.*)$", views.fhir_not_found, name="not_found"),
    ],
    "fhir",
)
