from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from . import services
from .models import (
    EducationPage,
    EducationStep,
    FastingPolicy,
    Guardian,
    Location,
    OutcomeReason,
    PageView,
    Patient,
    PreparedQuestion,
    Procedure,
    ProcedureType,
    Readiness,
)

# Edits here that move what a family must do go through the same change path as
# the nurse pages: the version goes up, reminders are planned again and the
# family is told. (The admin already wraps each save in one transaction.)


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ("name", "phone", "timezone")
    filter_horizontal = ("nurses",)
    search_fields = ("name",)

    def save_model(self, request: HttpRequest, obj: Location, form: Any, change: bool) -> None:
        if change:
            services.update_clinic(location=obj, changed_by=request.user)
        else:
            super().save_model(request, obj, form, change)


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ("last_name", "first_name", "mrn", "location")
    list_select_related = ("location",)
    search_fields = ("last_name", "first_name", "mrn")
    autocomplete_fields = ("guardians",)
    list_filter = ("location",)

    def save_model(self, request: HttpRequest, obj: Patient, form: Any, change: bool) -> None:
        if change:
            services.update_child(patient=obj, changed_by=request.user)
        else:
            super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        services.update_guardians(
            patient=form.instance,
            changed_by=request.user,
            apply=lambda: super(PatientAdmin, self).save_related(request, form, formsets, change),
        )


@admin.register(Guardian)
class GuardianAdmin(admin.ModelAdmin):
    list_display = ("user", "mobile_number", "relationship")
    list_select_related = ("user",)
    search_fields = ("user__email", "user__full_name")
    autocomplete_fields = ("user",)


@admin.register(Procedure)
class ProcedureAdmin(admin.ModelAdmin):
    list_display = ("pk", "patient", "kind", "location", "scheduled_start", "sedation", "status", "version")
    list_select_related = ("patient", "location")
    list_filter = ("status", "location", "sedation", "kind")
    search_fields = ("patient__last_name", "patient__mrn")
    readonly_fields = ("version", "created_by", "created_at", "updated_at")
    raw_id_fields = ("patient",)

    def save_model(self, request: HttpRequest, obj: Procedure, form: Any, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            services.booked(obj)
            return
        fields = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
        try:
            services.update_procedure(procedure=obj, changed_by=request.user, **fields)
        except (services.DayOfError, ValidationError) as error:
            self.message_user(request, " ".join(getattr(error, "messages", [str(error)])), level="error")


@admin.register(FastingPolicy)
class FastingPolicyAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "solids_hours",
        "fatty_food_hours",
        "formula_hours",
        "breast_milk_hours",
        "clear_fluids_hours",
        "anchor",
        "is_active",
    )

    def save_model(self, request: HttpRequest, obj: FastingPolicy, form: Any, change: bool) -> None:
        services.update_fasting_policy(policy=obj, changed_by=request.user)

    def delete_model(self, request: HttpRequest, obj: FastingPolicy) -> None:
        services.update_fasting_policy(policy=obj, changed_by=request.user, delete=True)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for policy in queryset:
            self.delete_model(request, policy)


@admin.register(ProcedureType)
class ProcedureTypeAdmin(admin.ModelAdmin):
    list_display = ("name_en", "slug")
    prepopulated_fields = {"slug": ("name_en",)}


class EducationStepInline(admin.StackedInline):
    model = EducationStep
    extra = 0


@admin.register(EducationPage)
class EducationPageAdmin(admin.ModelAdmin):
    list_display = ("order", "title_en", "procedure_type", "reviewed_on")
    list_display_links = ("title_en",)
    list_filter = ("procedure_type",)
    inlines = [EducationStepInline]


@admin.register(Readiness)
class ReadinessAdmin(admin.ModelAdmin):
    list_display = ("procedure", "user", "fasting_ack_version", "fasting_ack_at", "contact_confirmed_at")
    list_select_related = ("procedure", "user")
    raw_id_fields = ("procedure", "user")


@admin.register(PreparedQuestion)
class PreparedQuestionAdmin(admin.ModelAdmin):
    list_display = ("procedure", "user", "standard_key", "created_at")
    list_select_related = ("procedure", "user")
    raw_id_fields = ("procedure", "user")


@admin.register(PageView)
class PageViewAdmin(admin.ModelAdmin):
    list_display = ("user", "page", "first_viewed_at", "last_viewed_at")
    list_select_related = ("user", "page")
    raw_id_fields = ("user",)


@admin.register(OutcomeReason)
class OutcomeReasonAdmin(admin.ModelAdmin):
    """Each clinic may add its own reasons; the shipped ones (no clinic) are every clinic's."""

    list_display = ("label_en", "label_es", "location", "fasting_related", "is_active", "order")
    list_filter = ("location", "fasting_related", "is_active")
