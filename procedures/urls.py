from __future__ import annotations

from django.urls import path

from . import views

nurse_patterns = (
    [
        path("", views.procedure_list, name="procedure_list"),
        path("procedures/<int:pk>/", views.procedure_detail, name="procedure_detail"),
        path("procedures/<int:pk>/edit/", views.procedure_edit, name="procedure_edit"),
        path("procedures/<int:pk>/cancel/", views.procedure_cancel, name="procedure_cancel"),
        path("patients/", views.patient_list, name="patient_list"),
        path("patients/new/", views.patient_create, name="patient_create"),
        path("patients/<int:pk>/", views.patient_detail, name="patient_detail"),
        path("patients/<int:pk>/edit/", views.patient_edit, name="patient_edit"),
        path("patients/<int:pk>/guardians/new/", views.guardian_add, name="guardian_add"),
        path("patients/<int:pk>/procedures/new/", views.procedure_create, name="procedure_create"),
        path("guardians/<int:pk>/", views.guardian_detail, name="guardian_detail"),
        path("guardians/<int:pk>/invite/", views.guardian_resend_invitation, name="guardian_resend_invitation"),
    ],
    "nurse",
)

family_patterns = (
    [
        path("", views.family_dashboard, name="dashboard"),
        path("procedures/<int:pk>/", views.family_procedure, name="procedure"),
        path("children/<int:pk>/", views.family_child, name="child"),
    ],
    "family",
)
