"""How the day went: started on time or late, or cancelled, and why (procedures.outcomes owns the rules)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .base import Bilingual
from .care import Location, Procedure


class OutcomeKind(models.TextChoices):
    ON_TIME = "on_time", _("Started on time")
    LATE = "late", _("Started late")
    CANCELLED_ON_DAY = "cancelled_on_day", _("Cancelled or postponed on the day")
    CANCELLED_BEFORE = "cancelled_before", _("Cancelled before the day")


class OutcomeReasonQuerySet(models.QuerySet["OutcomeReason"]):
    def for_location(self, location: Location) -> OutcomeReasonQuerySet:
        """The shipped reasons every clinic has, and the clinic's own."""
        return self.filter(Q(location=None) | Q(location=location), is_active=True)


class OutcomeReason(Bilingual, models.Model):
    """Why a start was late or a procedure did not happen. Shipped ones have no clinic; a clinic adds its own."""

    code = models.SlugField(_("code"), max_length=40)
    label_en = models.CharField(_("reason (English)"), max_length=120)
    label_es = models.CharField(_("reason (Spanish)"), max_length=120, blank=True)
    # Counted in the clinic's rate of delays and cancellations that fasting could have avoided.
    fasting_related = models.BooleanField(_("about eating or drinking"), default=False)
    # "Other": the nurse says what, in a few words.
    needs_text = models.BooleanField(_("needs a few words"), default=False)
    location = models.ForeignKey(
        Location,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="outcome_reasons",
        verbose_name=_("clinic"),
        help_text=_("Empty: every clinic has this reason."),
    )
    order = models.PositiveSmallIntegerField(_("order"), default=100)
    is_active = models.BooleanField(_("in use"), default=True)

    objects = OutcomeReasonQuerySet.as_manager()

    class Meta:
        ordering = ["order", "pk"]
        verbose_name = _("delay or cancellation reason")
        verbose_name_plural = _("delay and cancellation reasons")
        constraints = [
            models.UniqueConstraint(fields=["code"], condition=Q(location=None), name="outcome_reason_shipped_code"),
            models.UniqueConstraint(fields=["location", "code"], name="outcome_reason_clinic_code"),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return self.in_language("label")


class DayOutcome(models.Model):
    """One procedure's outcome, as the nurse recorded it (and corrected it, if she did)."""

    procedure = models.OneToOneField(Procedure, on_delete=models.CASCADE, related_name="outcome")
    kind = models.CharField(_("outcome"), max_length=20, choices=OutcomeKind.choices)
    # Minutes after the start the family was first given for the day; none unless it started.
    late_minutes = models.IntegerField(_("minutes late"), null=True, blank=True)
    reason = models.ForeignKey(
        OutcomeReason, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("reason")
    )
    reason_text = models.CharField(_("in a few words"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("outcome of the day")
        verbose_name_plural = _("outcomes of the day")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.procedure_id}"

    @property
    def summary(self) -> str:
        """The outcome in one sentence, for the nurse."""
        if self.kind == OutcomeKind.LATE:
            return _("Started %(minutes)s minutes late: %(reason)s.") % {
                "minutes": self.late_minutes,
                "reason": self.reason_label,
            }
        if self.kind == OutcomeKind.ON_TIME:
            return str(_("Started on time."))
        return _("%(outcome)s: %(reason)s.") % {
            "outcome": self.get_kind_display(),
            "reason": self.reason_label or _("no reason given"),
        }

    @property
    def reason_label(self) -> str:
        if self.reason is None:
            return ""
        return f"{self.reason.label}: {self.reason_text}" if self.reason_text else self.reason.label
