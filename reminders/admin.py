from __future__ import annotations

from django.contrib import admin

from .models import DeliveryAttempt, InboundText, OutboxMessage, Reminder, WebhookEvent


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    readonly_fields = ("number", "started_at", "finished_at", "outcome", "error")
    can_delete = False


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    list_display = ("pk", "procedure", "guardian", "kind", "channel", "due_at", "status", "attempts")
    list_filter = ("status", "kind", "channel")
    list_select_related = ("procedure", "guardian__user")
    raw_id_fields = ("procedure", "guardian", "resend_of")
    inlines = [DeliveryAttemptInline]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ("created_at", "channel", "to", "subject")
    list_filter = ("channel",)
    raw_id_fields = ("reminder",)


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ("provider", "key", "received_at")


@admin.register(InboundText)
class InboundTextAdmin(admin.ModelAdmin):
    list_display = ("received_at", "from_number", "meaning", "guardian", "procedure", "answered_at")
    list_filter = ("meaning", "by_text")
    list_select_related = ("guardian__user", "procedure")
    raw_id_fields = ("guardian", "procedure", "location", "answered_by")
    # What a family wrote is a record: it is read here, never rewritten.
    readonly_fields = ("received_at", "by_text", "from_number", "body", "provider_message_id", "procedure_version")
