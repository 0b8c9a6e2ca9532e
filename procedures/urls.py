from __future__ import annotations

from django.urls import include, path

from reminders import views as reminder_views
from reminders.urls import staff_patterns

from . import views

nurse_patterns = (
    [
        path("", views.procedure_list, name="procedure_list"),
        path("dashboard/", views.dashboard, name="dashboard"),
        path("procedures/<id:pk>/running-late/", views.procedure_running_late, name="procedure_running_late"),
        path("procedures/<id:pk>/done/", views.procedure_done, name="procedure_done"),
        path("check-ins/<id:pk>/acknowledge/", views.check_in_acknowledge, name="check_in_acknowledge"),
        path("check-ins/acknowledge/", views.check_ins_acknowledge, name="check_ins_acknowledge"),
        path("procedures/<id:pk>/", views.procedure_detail, name="procedure_detail"),
        path("procedures/<id:pk>/edit/", views.procedure_edit, name="procedure_edit"),
        path("procedures/<id:pk>/cancel/", views.procedure_cancel, name="procedure_cancel"),
        path("patients/", views.patient_list, name="patient_list"),
        path("patients/new/", views.patient_create, name="patient_create"),
        path("patients/<id:pk>/", views.patient_detail, name="patient_detail"),
        path("patients/<id:pk>/edit/", views.patient_edit, name="patient_edit"),
        path("patients/<id:pk>/access/", views.patient_access, name="patient_access"),
        path("patients/<id:pk>/guardians/new/", views.guardian_add, name="guardian_add"),
        path("patients/<id:pk>/procedures/new/", views.procedure_create, name="procedure_create"),
        path("guardians/<id:pk>/", views.guardian_detail, name="guardian_detail"),
        path("guardians/<id:pk>/text-consent/", views.guardian_sms_consent, name="guardian_sms_consent"),
        path("guardians/<id:pk>/invite/", views.guardian_resend_invitation, name="guardian_resend_invitation"),
        *staff_patterns,
        path("record-system/", include("procedures.feed.urls")),
    ],
    "nurse",
)

family_patterns = (
    [
        path("", views.family_dashboard, name="dashboard"),
        path("procedures/<id:pk>/", views.family_procedure, name="procedure"),
        path("children/<id:pk>/", views.family_child, name="child"),
        path("procedures/<id:pk>/fasting-card/", views.family_fasting_card, name="fasting_card"),
        path("procedures/<id:pk>/fasting/acknowledge/", views.family_acknowledge_fasting, name="acknowledge_fasting"),
        path("procedures/<id:pk>/contact/confirm/", views.family_confirm_contact, name="confirm_contact"),
        path("procedures/<id:pk>/questions/", views.family_questions, name="questions"),
        path(
            "procedures/<id:pk>/questions/<id:question_pk>/delete/",
            views.family_question_delete,
            name="question_delete",
        ),
        path("procedures/<id:pk>/questions/print/", views.family_questions_print, name="questions_print"),
        path("procedures/<id:pk>/appointment.ics", views.family_calendar, name="calendar"),
        path("preferences/", reminder_views.preferences, name="preferences"),
        path("text-reminders/", reminder_views.text_question, name="text_question"),
        path("procedures/<id:pk>/check-in/", views.family_check_in, name="check_in"),
    ],
    "family",
)

learn_patterns = (
    [
        path("", views.learn_index, name="index"),
        # Before the page slugs, so the child's page is never taken for one.
        path("for-children/", views.learn_for_children, name="for_children"),
        path("<slug:slug>/", views.learn_page, name="page"),
        path("<slug:slug>/step/<int:number>/", views.learn_step, name="step"),
    ],
    "learn",
)
