from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .intake import try_again
from .models import ApiToken, InboundMessage, LocationCode, MessageStatus, SendingSystem, ServiceCode


class LocationCodeInline(admin.TabularInline):
    model = LocationCode
    extra = 1


class ServiceCodeInline(admin.TabularInline):
    model = ServiceCode
    extra = 1


@admin.register(SendingSystem)
class SendingSystemAdmin(admin.ModelAdmin):
    list_display = ("name", "hl7_application", "hl7_facility", "timezone", "is_active")
    filter_horizontal = ("clinics",)
    inlines = (LocationCodeInline, ServiceCodeInline)
    readonly_fields = ("actor",)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "system", "label", "scopes", "created_at", "expires_at", "last_used_at", "revoked_at")
    list_filter = ("system",)
    readonly_fields = ("prefix", "created_at", "expires_at", "scopes", "last_used_at", "revoked_at")
    actions = ("revoke",)

    def get_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> list[str]:
        return ["system", "label"] if obj is None else ["system", "label", *self.readonly_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> tuple[str, ...]:
        return self.readonly_fields if obj is None else ("system", *self.readonly_fields)

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if not change:
            token = obj.set_new_token()
            self.message_user(
                request,
                _("The new token is %(token)s. Copy it now: it is stored only as a hash and is not shown again.")
                % {"token": token},
                level=messages.WARNING,
            )
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Revoke the selected tokens"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, _("%(count)d token(s) revoked.") % {"count": count})


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    list_display = ("received_at", "system", "protocol", "message_type", "control_id", "status")
    list_filter = ("status", "protocol", "system")
    list_select_related = ("system",)
    search_fields = ("control_id", "filler_id")
    readonly_fields = [f.name for f in InboundMessage._meta.fields if f.name != "raw"] + ["text"]
    exclude = ("raw",)
    actions = ("retry",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: InboundMessage | None = None) -> bool:
        return False

    @admin.action(description=_("Try the selected messages again"))
    def retry(self, request: HttpRequest, queryset: QuerySet[InboundMessage]) -> None:
        outcomes = [try_again(message) for message in queryset.filter(status=MessageStatus.FAILED)]
        applied = sum(outcome.status != MessageStatus.FAILED for outcome in outcomes)
        self.message_user(
            request, _("%(applied)d of %(total)d applied.") % {"applied": applied, "total": len(outcomes)}
        )
