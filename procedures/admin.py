from __future__ import annotations

from django.contrib import admin

from .models import (
    EducationPage,
    EducationStep,
    FastingPolicy,
    Guardian,
    Location,
    PageView,
    Patient,
    PreparedQuestion,
    Procedure,
    ProcedureType,
    Readiness,
)


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ("name", "phone", "timezone")
    filter_horizontal = ("nurses",)
    search_fields = ("name",)


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ("last_name", "first_name", "mrn", "location")
    list_select_related = ("location",)
    search_fields = ("last_name", "first_name", "mrn")
    autocomplete_fields = ("guardians",)
    list_filter = ("location",)


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
