"""Reminders are rows: the database is the schedule, the broker only a doorbell."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.choices import ChoiceLabels
from portal.models import Role


class Channel(models.TextChoices):
    SMS = "sms", _("Text message")
    EMAIL = "email", _("Email")


class Kind(models.TextChoices):
    CONFIRMATION = "confirmation", _("Appointment booked")
    CHANGED = "changed", _("Appointment changed")
    CANCELLED = "cancelled", _("Appointment cancelled")
    DELAYED = "delayed", _("Running late")
    FASTING_EVENING = "fasting_evening", _("Fasting, evening before")
    FASTING_MORNING = "fasting_morning", _("Fasting, morning of")
    AFTERCARE_EVENING = "aftercare_evening", _("Aftercare, same evening")
    AFTERCARE_NEXT_DAY = "aftercare_next_day", _("Aftercare check-in, next day")
    # Account and care-team emails: the same durable, retried path, no appointment times.
    INVITATION = "invitation", _("Invitation to the portal")
    CONTACT_CHANGED = "contact_changed", _("Contact details changed")
    TEAM_ALERT = "team_alert", _("Warning sign, to the care team")
    PASSWORD_RESET = "password_reset", _("Link to choose a new password")
    PASSWORD_RESET_CODE = "password_reset_code", _("Code to choose a new password")
    PASSWORD_CHANGED = "password_changed", _("Password changed")


# Kinds about the account or the care team rather than an appointment's times.
ACCOUNT_KINDS = (
    Kind.INVITATION,
    Kind.CONTACT_CHANGED,
    Kind.TEAM_ALERT,
    Kind.PASSWORD_RESET,
    Kind.PASSWORD_RESET_CODE,
    Kind.PASSWORD_CHANGED,
)


class Status(models.TextChoices):
    SCHEDULED = "scheduled", _("Planned")
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    # Handed over with no clear answer: the provider is asked before anything is sent again.
    UNKNOWN = "unknown", _("Outcome unknown")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")


OPEN_STATUSES = (Status.SCHEDULED, Status.QUEUED)
# What a nurse must look at: not sent, too late, or no one knows.
PROBLEM_STATUSES = (Status.FAILED, Status.EXPIRED, Status.UNKNOWN)


class ReminderQuerySet(models.QuerySet["Reminder"]):
    def due(self, now: dt.datetime) -> ReminderQuerySet:
        """Planned rows whose time has come (the partial index on scheduled rows' due time serves it)."""
        return self.filter(status=Status.SCHEDULED, due_at__lte=now)

    def open(self) -> ReminderQuerySet:
        return self.filter(status__in=OPEN_STATUSES)

    def problems(self) -> ReminderQuerySet:
        return self.filter(status__in=PROBLEM_STATUSES)


class Reminder(ChoiceLabels, models.Model):
    procedure = models.ForeignKey(
        "procedures.Procedure", on_delete=models.CASCADE, related_name="reminders", null=True, blank=True
    )
    guardian = models.ForeignKey(
        "procedures.Guardian", on_delete=models.CASCADE, related_name="reminders", null=True, blank=True
    )
    # An address of its own (the care team's, or the one a guardian just changed away from);
    # empty means the guardian's current address on the channel.
    address = models.CharField(max_length=254, blank=True)
    # What an account or care-team message is about (e.g. the check-in of a team alert).
    about_id = models.PositiveBigIntegerField(null=True, blank=True)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    due_at = models.DateTimeField(_("due"))
    valid_until = models.DateTimeField(_("useful until"))
    # The procedure version this reminder was planned for; a newer version makes it stale.
    procedure_version = models.PositiveIntegerField(default=0)
    # The clinic-local day of the appointment it was planned for: a fasting
    # reminder goes once per day, however often the time moves on that day.
    appointment_day = models.DateField(null=True, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.SCHEDULED)
    attempts = models.PositiveSmallIntegerField(default=0)
    provider_message_id = models.CharField(max_length=64, blank=True, db_index=True)
    last_error = models.CharField(max_length=300, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    sending_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # The send task holding the row while queued or sending, and until when (reminders.leases).
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # When the provider was last asked about a hand-over with no clear answer.
    checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    resend_of = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="+")

    objects = ReminderQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "pk"]
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")
        indexes = [
            # Used by the dispatcher (reminders.dispatch.claim_due): scheduled rows by due time.
            models.Index(fields=["due_at"], name="reminder_due_scheduled", condition=Q(status=Status.SCHEDULED)),
            # Used by the sweeper (reminders.recovery.sweep): rows a worker may have dropped.
            models.Index(
                fields=["updated_at"], name="reminder_in_flight", condition=Q(status__in=["queued", "sending"])
            ),
            # Used by reminders.recovery.reconcile: hand-overs whose outcome is not known yet.
            models.Index(fields=["updated_at"], name="reminder_unknown", condition=Q(status=Status.UNKNOWN)),
            # Used by the nurse dashboard (reminders.dashboard.problems): recent failed, expired, unknown rows.
            models.Index(
                fields=["updated_at", "procedure"], name="reminder_problems", condition=Q(status__in=PROBLEM_STATUSES)
            ),
        ]
        constraints = [
            # Planning twice (two quick edits, a retried request) cannot create a second copy.
            models.UniqueConstraint(
                fields=["procedure", "guardian", "channel", "kind", "procedure_version"],
                condition=Q(resend_of__isnull=True),
                name="reminder_planned_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} by {self.channel} for procedure {self.procedure_id} v{self.procedure_version}"


class AttemptOutcome(models.TextChoices):
    PENDING = "pending", _("In progress")
    SUCCESS = "success", _("Accepted by the provider")
    TRANSIENT = "transient", _("Temporary error")
    PERMANENT = "permanent", _("Permanent error")
    WITHDRAWN = "withdrawn", _("Not sent: the appointment changed first")
    UNKNOWN = "unknown", _("No clear answer from the provider")


class DeliveryAttempt(models.Model):
    """Written before the provider is called, completed after."""

    reminder = models.ForeignKey(Reminder, on_delete=models.CASCADE, related_name="delivery_attempts")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=12, choices=AttemptOutcome.choices, default=AttemptOutcome.PENDING)
    error = models.CharField(max_length=300, blank=True)
    # What was handed over, kept so the provider can be asked about it later: the
    # address and a digest of the text (never the text itself).
    to = models.CharField(max_length=254, blank=True)
    body_sha256 = models.CharField(max_length=64, blank=True)
    # The procedure's start as this message gave it (arrival and cut-offs follow from it): a later
    # shift is told against what this guardian last heard, not against the version before.
    told_start = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["reminder", "number"]
        constraints = [models.UniqueConstraint(fields=["reminder", "number"], name="attempt_number_once")]
        indexes = [
            # Used by reminders.health and reminders.metrics: the calls of the last minutes.
            models.Index(fields=["started_at"], name="attempt_started")
        ]

    def __str__(self) -> str:
        return f"Attempt {self.number} of reminder {self.reminder_id}: {self.outcome}"


class OutboxMessage(models.Model):
    """What would have gone out, in the embedded default (and a record in any mode)."""

    channel = models.CharField(max_length=8, choices=Channel.choices)
    to = models.CharField(max_length=254)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    reminder = models.ForeignKey(Reminder, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")

    def __str__(self) -> str:
        return f"{self.channel} to {self.to} at {self.created_at:%Y-%m-%d %H:%M}"


class WebhookEvent(models.Model):
    """Each provider callback once: a replayed request finds its row and changes nothing."""

    provider = models.CharField(max_length=16)
    key = models.CharField(max_length=128)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "key"], name="webhook_event_once")]

    def __str__(self) -> str:
        return f"{self.provider} {self.key}"


class EarlyStatus(models.Model):
    """A delivery status the provider reported before we had stored its message id.

    Providers may call back before the send has committed; the status waits
    here and is applied when the id is stored (reminders.webhooks.apply_early_status).
    """

    provider = models.CharField(max_length=16)
    message_id = models.CharField(max_length=64)
    status = models.CharField(max_length=16)
    error_code = models.CharField(max_length=16, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["received_at", "pk"]
        indexes = [
            # Used by reminders.webhooks.apply_early_status: statuses still waiting for their message.
            models.Index(
                fields=["provider", "message_id"], name="early_status_waiting", condition=Q(applied_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.message_id} {self.status}"


class Reply(models.TextChoices):
    """What a family's text says, as the care team reads it."""

    CONFIRMED = "confirmed", _("Confirmed")
    CANT_COME = "cant_come", _("Family says they can't come")
    LATE = "late", _("Family says they will be late")
    OPT_OUT = "opt_out", _("Stopped texts")
    OPT_IN = "opt_in", _("Texts back on")
    HELP = "help", _("Asked for help")
    MESSAGE = "message", _("Message")


# Replies that answer "will you be there?": the latest at the procedure's current version is its answer.
ANSWERS = (Reply.CONFIRMED, Reply.CANT_COME, Reply.LATE)


class InboundTextQuerySet(models.QuerySet["InboundText"]):
    def visible_to(self, user: object) -> InboundTextQuerySet:
        """A nurse's clinics' texts and those from numbers no guardian has; an admin's, all."""
        if getattr(user, "role", None) == Role.ADMIN:
            return self
        return self.filter(Q(location__nurses=user) | Q(guardian__isnull=True, location__isnull=True))

    def answers_for_current_version(self) -> InboundTextQuerySet:
        """Answers to "will you be there?" given for the version a procedure is at now (a reschedule voids them)."""
        return self.filter(meaning__in=ANSWERS, procedure_version=models.F("procedure__version"))


class InboundText(ChoiceLabels, models.Model):
    """Every text a family (or anyone) sends the clinic's number, kept whatever it says.

    A reply about an appointment is tied to the procedure and the version it was
    at: after a reschedule, an earlier "yes" no longer answers for the new time.
    A text from a number no guardian has is kept too (guardian empty), for the nurses to see.
    """

    received_at = models.DateTimeField(default=timezone.now)
    # A text, or a button on the family's page (for families who don't text).
    by_text = models.BooleanField(default=True)
    from_number = models.CharField(max_length=64, blank=True)
    body = models.TextField(max_length=1600, blank=True)
    provider_message_id = models.CharField(max_length=64, blank=True)
    meaning = models.CharField(_("reply"), max_length=12, choices=Reply.choices, default=Reply.MESSAGE)
    guardian = models.ForeignKey(
        "procedures.Guardian", on_delete=models.SET_NULL, null=True, blank=True, related_name="inbound_texts"
    )
    procedure = models.ForeignKey(
        "procedures.Procedure", on_delete=models.SET_NULL, null=True, blank=True, related_name="inbound_texts"
    )
    procedure_version = models.PositiveIntegerField(null=True, blank=True)
    # The clinic whose nurses see it (the procedure's, else the guardian's child's); empty for an unknown number.
    location = models.ForeignKey(
        "procedures.Location", on_delete=models.SET_NULL, null=True, blank=True, related_name="inbound_texts"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = InboundTextQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = _("text from a family")
        verbose_name_plural = _("texts from families")
        indexes = [
            # Used by the nurse dashboard (reminders.replies.recent): a clinic's texts, newest first.
            models.Index(fields=["location", "received_at"], name="inbound_location_received"),
            # Used by reminders.replies.answers: the latest answer of each procedure.
            models.Index(fields=["procedure", "received_at"], name="inbound_procedure_received"),
        ]

    def __str__(self) -> str:
        return f"text from {self.from_number} at {self.received_at:%Y-%m-%d %H:%M} ({self.meaning})"

    @property
    def answered(self) -> bool:
        return self.answered_at is not None
