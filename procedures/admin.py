from __future__ import annotations

from django.contrib import admin

from .models import Guardian, Location, Patient, Procedure


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
