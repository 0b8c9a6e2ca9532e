from __future__ import annotations

from django.urls import include, path

from .views import day_list, family, learn, nurse, quality

# Each list is mounted by the project's URLconf (portal/urls.py) under its namespace,
# together with the pages other apps add to the same side of the portal.

nurse_patterns = [
    path("", nurse.procedure_list, name="procedure_list"),
    path("dashboard/", nurse.dashboard, name="dashboard"),
    path("day-list/", day_list.day_list, name="day_list"),
    path("quality/", quality.quality_page, name="quality"),
    path("procedures/<id:pk>/running-late/", nurse.procedure_running_late, name="procedure_running_late"),
    path("procedures/<id:pk>/done/", nurse.procedure_done, name="procedure_done"),
    path("procedures/<id:pk>/outcome/", nurse.procedure_outcome, name="procedure_outcome"),
    path("procedures/<id:pk>/last-ate-and-drank/", nurse.procedure_intake, name="procedure_intake"),
    path("check-ins/<id:pk>/acknowledge/", nurse.check_in_acknowledge, name="check_in_acknowledge"),
    path("check-ins/acknowledge/", nurse.check_ins_acknowledge, name="check_ins_acknowledge"),
    path("procedures/<id:pk>/", nurse.procedure_detail, name="procedure_detail"),
    path("procedures/<id:pk>/edit/", nurse.procedure_edit, name="procedure_edit"),
    path("procedures/<id:pk>/cancel/", nurse.procedure_cancel, name="procedure_cancel"),
    path("patients/", nurse.patient_list, name="patient_list"),
    path("patients/new/", nurse.patient_create, name="patient_create"),
    path("patients/<id:pk>/", nurse.patient_detail, name="patient_detail"),
    path("patients/<id:pk>/edit/", nurse.patient_edit, name="patient_edit"),
    path("patients/<id:pk>/access/", nurse.patient_access, name="patient_access"),
    path("patients/<id:pk>/guardians/new/", nurse.guardian_add, name="guardian_add"),
    path("patients/<id:pk>/procedures/new/", nurse.procedure_create, name="procedure_create"),
    path("guardians/<id:pk>/invite/", nurse.guardian_resend_invitation, name="guardian_resend_invitation"),
    # Bookings from the hospital's record system that could not be applied.
    path("record-system/", include("procedures.feed.urls")),
]

family_patterns = [
    path("", family.family_dashboard, name="dashboard"),
    path("procedures/<id:pk>/", family.family_procedure, name="procedure"),
    path("children/<id:pk>/", family.family_child, name="child"),
    path("procedures/<id:pk>/fasting-card/", family.family_fasting_card, name="fasting_card"),
    path("procedures/<id:pk>/fasting/acknowledge/", family.family_acknowledge_fasting, name="acknowledge_fasting"),
    path("procedures/<id:pk>/last-ate-and-drank/", family.family_intake, name="intake"),
    path("procedures/<id:pk>/contact/confirm/", family.family_confirm_contact, name="confirm_contact"),
    path("procedures/<id:pk>/questions/", family.family_questions, name="questions"),
    path(
        "procedures/<id:pk>/questions/<id:question_pk>/delete/",
        family.family_question_delete,
        name="question_delete",
    ),
    path("procedures/<id:pk>/questions/print/", family.family_questions_print, name="questions_print"),
    path("procedures/<id:pk>/appointment.ics", family.family_calendar, name="calendar"),
    path("procedures/<id:pk>/check-in/", family.family_check_in, name="check_in"),
]

learn_patterns = [
    path("", learn.learn_index, name="index"),
    # Before the page slugs, so the child's page is never taken for one.
    path("for-children/", learn.learn_for_children, name="for_children"),
    path("<slug:slug>/", learn.learn_page, name="page"),
    path("<slug:slug>/step/<int:number>/", learn.learn_step, name="step"),
]
