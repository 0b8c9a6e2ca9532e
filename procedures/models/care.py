"""Care records: clinics, children, guardians and their procedures."""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Iterable
from datetime import datetime
from datetime import time as dt_time
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import connections, models
from django.db.models import Q
from django.templatetags.tz import datetimeobject
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.choices import ChoiceLabels
from portal.models import Language, Role
from portal.phones import validate_phone

from .. import fasting
from .base import Bilingual, scoped, validate_time_zone
from .fasting_policy import FastingPolicy

if TYPE_CHECKING:
    from portal.models import User


class NonexistentTime(ValueError):
    """A clock time that does not happen on that day at the clinic: the clocks go forward over it."""


class LocationQuerySet(models.QuerySet["Location"]):
    def visible_to(self, user: User) -> LocationQuerySet:
        return scoped(self, user, nurse=Q(nurses=user), guardian=None)

    def for_family(self, user: User) -> Iterable[Location]:
        """The clinics a guardian may need to call, by name: each child's own, and where a recent or coming visit is.

        Every family page's footer runs this, so it is one flat statement written once: built
        through the ORM, making the nested query took longer than PostgreSQL took to plan and
        run it. The children are the guardian's own, as `scoped` rules for a guardian;
        tests/procedures/test_phones_to_call.py holds it to the ORM's visible_to.
        """
        if not (user.is_authenticated and user.is_active and user.role == Role.GUARDIAN):
            return self.none()
        # Two weeks covers the days of check-ins after a visit.
        since = connections[self.db].ops.adapt_datetimefield_value(timezone.now() - timezone.timedelta(days=VISIT_DAYS))
        return self.raw(_family_clinics_sql(), [user.pk, user.pk, since, ProcedureStatus.CANCELLED.value])


# A visit this recent (or still to come) puts its clinic's number on the family's pages.
VISIT_DAYS = 14


@functools.cache
def _family_clinics_sql() -> str:
    links = Patient.guardians.through._meta.db_table
    return f"""
        SELECT * FROM {Location._meta.db_table} WHERE id IN (
            SELECT child.location_id FROM {Patient._meta.db_table} child
            JOIN {links} link ON link.patient_id = child.id
            JOIN {Guardian._meta.db_table} guardian ON guardian.id = link.guardian_id
            WHERE guardian.user_id = %s
          UNION ALL
            SELECT visit.location_id FROM {Procedure._meta.db_table} visit
            JOIN {links} link ON link.patient_id = visit.patient_id
            JOIN {Guardian._meta.db_table} guardian ON guardian.id = link.guardian_id
            WHERE guardian.user_id = %s AND visit.scheduled_start >= %s AND visit.status <> %s
        ) ORDER BY name, id
    """  # noqa: S608 - table names from the models, values as parameters


# The longest clinic name a text carries (reminders.text_budget measures texts with it).
TEXT_NAME_MAX = 32


class Location(models.Model):
    """A clinic or procedure unit. Its time zone decides every time shown."""

    name = models.CharField(_("name"), max_length=120)
    # Texts are paid for by the segment and read at a glance: a long name takes a third of one.
    text_name = models.CharField(
        _("name in texts"),
        max_length=TEXT_NAME_MAX,
        blank=True,
        help_text=_('A short name for text messages, e.g. "Lakeside Day Unit". Empty: the full name.'),
    )
    address = models.CharField(_("address"), max_length=255, blank=True)
    phone = models.CharField(_("phone to call"), max_length=20, validators=[validate_phone])
    timezone = models.CharField(
        _("time zone"), max_length=64, default="America/Chicago", validators=[validate_time_zone]
    )
    # When messages go out, in the clinic's own time.
    evening_reminder_time = models.TimeField(
        _("evening reminder time"), default=dt_time(18, 0), help_text=_("The fasting reminder the evening before.")
    )
    quiet_hours_start = models.TimeField(
        _("quiet hours start"), default=dt_time(21, 0), help_text=_("Non-urgent messages wait until quiet hours end.")
    )
    quiet_hours_end = models.TimeField(_("quiet hours end"), default=dt_time(7, 0))
    fever_threshold_c = models.DecimalField(
        _("fever threshold (°C)"),
        max_digits=4,
        decimal_places=1,
        default=Decimal("38.0"),
        validators=[MinValueValidator(Decimal("37.0")), MaxValueValidator(Decimal("40.0"))],
        help_text=_("A check-in at or above this temperature asks the family to call now."),
    )
    team_email = models.EmailField(
        _("care team email"), blank=True, help_text=_("Gets an email when a family reports a warning sign.")
    )
    # What a leaflet would say about getting there; shown on the family's appointment page.
    parking_en = models.TextField(
        _("parking (English)"),
        max_length=1000,
        blank=True,
        help_text=_("Where to park, and how to pay or get a ticket stamped."),
    )
    parking_es = models.TextField(_("parking (Spanish)"), max_length=1000, blank=True)
    directions_en = models.TextField(
        _("directions (English)"),
        max_length=1000,
        blank=True,
        help_text=_("How to find the unit once inside: entrance, elevator, floor, desk."),
    )
    directions_es = models.TextField(_("directions (Spanish)"), max_length=1000, blank=True)
    # Which number to call when: the unit's own while it is open, this one when it is closed.
    opens_at = models.TimeField(_("day unit opens"), default=dt_time(7, 0))
    closes_at = models.TimeField(_("day unit closes"), default=dt_time(17, 0))
    after_hours_phone = models.CharField(
        _("after-hours phone"),
        max_length=20,
        blank=True,
        validators=[validate_phone],
        help_text=_("Who answers when the day unit is closed (nights and weekends)."),
    )
    # The clinic's own rule for a child who is unwell on the day, as a leaflet would say it.
    unwell_rule_en = models.TextField(
        _("if the child is unwell (English)"),
        max_length=1000,
        blank=True,
        help_text=_("What a family should do if the child has a cold, a fever or is vomiting before the visit."),
    )
    unwell_rule_es = models.TextField(_("if the child is unwell (Spanish)"), max_length=1000, blank=True)
    # A child kept waiting this long past the clear-fluids cut-off shows on the dashboard.
    thirst_alert_hours = models.DecimalField(
        _("thirst alert after (hours past the clear-fluids cut-off)"),
        max_digits=3,
        decimal_places=1,
        default=Decimal("2.0"),
        validators=[MinValueValidator(Decimal("0.5")), MaxValueValidator(Decimal("12.0"))],
        help_text=_(
            "When a start is delayed and a child's last clear drink was this long past the cut-off, "
            "the dashboard says so, so the team can decide whether to offer a clear drink."
        ),
    )
    nurses = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="locations",
        limit_choices_to={"role": Role.NURSE},
        verbose_name=_("nurses"),
    )

    objects = LocationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("location")
        verbose_name_plural = _("locations")

    def __str__(self) -> str:
        return self.name

    @property
    def name_in_texts(self) -> str:
        return self.text_name or self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def parking(self) -> str:
        return Bilingual.in_language(self, "parking")  # type: ignore[arg-type]

    @property
    def directions(self) -> str:
        return Bilingual.in_language(self, "directions")  # type: ignore[arg-type]

    @property
    def unwell_rule(self) -> str:
        return Bilingual.in_language(self, "unwell_rule")  # type: ignore[arg-type]

    def is_open(self, at: datetime) -> bool:
        """Whether the day unit answers its own phone at `at` (its hours on the clinic's clock, every day).

        Opening and closing at the same time means open all day, as for quiet hours.
        """
        clock = at.astimezone(self.tz).time()
        if self.opens_at == self.closes_at:
            return True
        if self.opens_at < self.closes_at:
            return self.opens_at <= clock < self.closes_at
        return clock >= self.opens_at or clock < self.closes_at

    def at(self, day: dt.date, clock: dt.time, *, strict: bool = False) -> datetime:
        """A wall-clock date and time at this clinic, as an aware datetime: the one way to make one.

        A time the clocks skip (going forward) moves to just after the jump, or
        with `strict` raises NonexistentTime (for a form to say so).
        """
        local = datetime.combine(day, clock, tzinfo=self.tz)
        moved = local.astimezone(dt.UTC).astimezone(self.tz)
        if moved.replace(tzinfo=None) != local.replace(tzinfo=None):
            if strict:
                raise NonexistentTime(clock)
            return moved
        return local

    def day_start(self, day: dt.date) -> datetime:
        """Midnight at this clinic: the first moment of `day` there."""
        return self.at(day, dt.time.min)

    def localize(self, value: datetime) -> datetime:
        # Marked (like Django's do_timezone) so templates show it as is instead
        # of converting it back to the request's time zone. do_timezone itself
        # drops the fold, which turns the second 1:30 AM of the night the
        # clocks go back (CST) into the first (CDT), an hour early.
        local = value.astimezone(self.tz)
        result = datetimeobject(
            local.year,
            local.month,
            local.day,
            local.hour,
            local.minute,
            local.second,
            local.microsecond,
            local.tzinfo,
            fold=local.fold,
        )
        result.convert_to_local_time = False
        return result


class Feeding(models.TextChoices):
    BREAST_MILK = "breast_milk", _("Breast milk only")
    BREAST_AND_FORMULA = "breast_and_formula", _("Breast milk and formula")
    FORMULA = "formula", _("Formula")
    REGULAR = "regular", _("Regular diet")


class PatientQuerySet(models.QuerySet["Patient"]):
    def visible_to(self, user: User) -> PatientQuerySet:
        return scoped(self, user, nurse=Q(location__nurses=user), guardian=Q(guardians__user=user))


class Patient(ChoiceLabels, models.Model):
    """The child."""

    first_name = models.CharField(_("first name"), max_length=80)
    last_name = models.CharField(_("last name"), max_length=80)
    date_of_birth = models.DateField(_("date of birth"))
    mrn = models.CharField(_("MRN"), max_length=32, unique=True, help_text=_("Medical record number."))
    feeding = models.CharField(_("feeding"), max_length=20, choices=Feeding.choices, default=Feeding.REGULAR)
    preferred_language = models.CharField(
        _("preferred language"), max_length=8, choices=Language.choices, default=Language.ENGLISH
    )
    location = models.ForeignKey(
        Location,
        on_delete=models.PROTECT,
        related_name="patients",
        verbose_name=_("care location"),
        help_text=_("The clinic whose nurses look after this child."),
    )
    guardians = models.ManyToManyField(
        "Guardian", blank=True, related_name="patients", verbose_name=_("parents and guardians")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PatientQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name"]
        verbose_name = _("patient")
        verbose_name_plural = _("patients")

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class ConsentVia(models.TextChoices):
    IN_PERSON = "in_person", _("In person")
    PHONE = "phone", _("By phone")
    PORTAL = "portal", _("Online, by the family")


class GuardianQuerySet(models.QuerySet["Guardian"]):
    def visible_to(self, user: User) -> GuardianQuerySet:
        # A subquery, not a join, so a guardian of two children is listed once.
        cared_for = Patient.objects.filter(location__nurses=user.pk).values("guardians")
        return scoped(self, user, nurse=Q(pk__in=cared_for), guardian=Q(user=user))


class Guardian(ChoiceLabels, models.Model):
    """A parent or guardian: the family side of a user account."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="guardian")
    mobile_number = models.CharField(
        _("mobile number"), max_length=20, blank=True, help_text=_("Stored in international form, e.g. +13125550142.")
    )
    relationship = models.CharField(_("relationship to the child"), max_length=40, blank=True)
    email_enabled = models.BooleanField(_("email reminders"), default=True)
    sms_enabled = models.BooleanField(_("text message reminders"), default=False)
    # Consent to texts: who recorded it, when, and the exact words agreed to.
    sms_consent_at = models.DateTimeField(_("text consent given at"), null=True, blank=True)
    sms_consent_text = models.TextField(_("text consent wording"), blank=True)
    sms_consent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    sms_consent_via = models.CharField(_("text consent given"), max_length=12, choices=ConsentVia.choices, blank=True)
    # When the family answered "Can we text you?" after logging in, yes or not now: asked once.
    sms_asked_at = models.DateTimeField(_("asked about texts at"), null=True, blank=True)
    # Set by an inbound STOP; cleared by START. Carriers require us to obey it at once.
    sms_opted_out_at = models.DateTimeField(_("opted out of texts at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = GuardianQuerySet.as_manager()

    class Meta:
        verbose_name = _("guardian")
        verbose_name_plural = _("guardians")

    def __str__(self) -> str:
        return self.user.full_name

    @property
    def can_receive_sms(self) -> bool:
        return bool(self.sms_enabled and self.mobile_number and self.sms_consent_at and self.sms_opted_out_at is None)

    @property
    def can_receive_email(self) -> bool:
        return bool(self.email_enabled and self.user.email and self.user.is_active)

    @property
    def reachable(self) -> bool:
        return self.can_receive_sms or self.can_receive_email


class ProcedureKind(models.TextChoices):
    ASPIRATION = "aspiration", _("Bone marrow aspiration")
    BIOPSY = "biopsy", _("Bone marrow biopsy")
    BOTH = "both", _("Bone marrow aspiration and biopsy")


class Sedation(models.TextChoices):
    GENERAL = "general", _("General anesthesia (asleep)")
    SEDATION = "sedation", _("Sedation (sleepy and relaxed)")
    LOCAL = "local", _("Local numbing only (awake)")


class ProcedureStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    RESCHEDULED = "rescheduled", _("Rescheduled")
    CANCELLED = "cancelled", _("Cancelled")
    COMPLETED = "completed", _("Completed")


ACTIVE_STATUSES = (ProcedureStatus.SCHEDULED, ProcedureStatus.RESCHEDULED)


class ProcedureQuerySet(models.QuerySet["Procedure"]):
    def visible_to(self, user: User) -> ProcedureQuerySet:
        return scoped(self, user, nurse=Q(location__nurses=user), guardian=Q(patient__guardians__user=user))

    def active(self) -> ProcedureQuerySet:
        return self.filter(status__in=ACTIVE_STATUSES)

    def upcoming(self) -> ProcedureQuerySet:
        """Active procedures that have not started more than a few hours ago."""
        return self.active().filter(scheduled_start__gte=timezone.now() - timezone.timedelta(hours=6))

    def search(self, term: str) -> ProcedureQuerySet:
        term = term.strip()
        if not term:
            return self
        condition = Q(patient__mrn__iexact=term)
        for word in term.split()[:4]:
            condition |= Q(patient__first_name__icontains=word) | Q(patient__last_name__icontains=word)
        return self.filter(condition)


class Procedure(ChoiceLabels, models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="procedures", verbose_name=_("child"))
    kind = models.CharField(_("procedure"), max_length=16, choices=ProcedureKind.choices, default=ProcedureKind.BOTH)
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="procedures", verbose_name=_("location")
    )
    scheduled_start = models.DateTimeField(_("start"))
    arrival_at = models.DateTimeField(_("arrival"))
    sedation = models.CharField(_("sedation"), max_length=16, choices=Sedation.choices, default=Sedation.GENERAL)
    status = models.CharField(
        _("status"), max_length=16, choices=ProcedureStatus.choices, default=ProcedureStatus.SCHEDULED
    )
    # Goes up on every change of time, place or sedation. Reminders and the
    # family's acknowledgement of the fasting plan are tied to one version.
    version = models.PositiveIntegerField(_("version"), default=1)
    cancel_reason = models.CharField(_("reason for cancelling"), max_length=200, blank=True)
    # On the day: minutes later (or, if negative, earlier) than first booked.
    running_late_minutes = models.IntegerField(_("running late (minutes)"), default=0)
    # The real start, as the nurse recorded it with the day's outcome (procedures.outcomes).
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    # When the child last had each thing, as the family said on the morning (procedures.intake),
    # then as the nurse confirmed or corrected it at check-in.
    last_drink_at = models.DateTimeField(_("last clear drink at"), null=True, blank=True)
    last_milk_at = models.DateTimeField(_("last milk or formula at"), null=True, blank=True)
    last_food_at = models.DateTimeField(_("last food at"), null=True, blank=True)
    intake_told_at = models.DateTimeField(_("family answered at"), null=True, blank=True)
    intake_told_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    intake_checked_at = models.DateTimeField(_("nurse checked at"), null=True, blank=True)
    intake_checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The care team's word on the child's usual medicines that morning, as the family reads it.
    morning_medicines = models.TextField(
        _("medicines on the morning"),
        max_length=500,
        blank=True,
        help_text=_(
            "Which of the child's usual medicines to give that morning (with a sip of water). Shown to the family."
        ),
    )
    # The anesthesiologist's exception: a longer fast than the policy for this one child.
    fasting_minimum_hours = models.DecimalField(
        _("longer fast (hours)"),
        max_digits=4,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.25")), MaxValueValidator(Decimal("24"))],
        help_text=_("Only if the anesthesiologist asks for a longer fast than usual. Clear fluids are not affected."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProcedureQuerySet.as_manager()

    class Meta:
        ordering = ["scheduled_start", "pk"]
        verbose_name = _("procedure")
        verbose_name_plural = _("procedures")
        indexes = [
            # The nurse list: a location's procedures by start time.
            models.Index(fields=["location", "scheduled_start"], name="procedure_location_start"),
            models.Index(fields=["status", "scheduled_start"], name="procedure_status_start"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(arrival_at__lte=models.F("scheduled_start")), name="procedure_arrival_not_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def local_start(self) -> datetime:
        return self.location.localize(self.scheduled_start)

    @property
    def local_arrival(self) -> datetime:
        return self.location.localize(self.arrival_at)

    @property
    def local_ended(self) -> datetime | None:
        return self.location.localize(self.ended_at) if self.ended_at else None

    def fasting_plan(self, policy: FastingPolicy | None = None) -> fasting.FastingPlan:
        return fasting.compute_fasting_plan(
            start=self.scheduled_start,
            arrival=self.arrival_at,
            time_zone=self.location.timezone,
            feeding=self.patient.feeding,
            sedation=self.sedation,
            rules=(policy or FastingPolicy.current()).rules(),
            minimum_hours=self.fasting_minimum_hours,
            infant=fasting.is_infant(self.patient.date_of_birth, on=self.local_start.date()),
        )

    @property
    def last_intake(self) -> dict[fasting.Intake, datetime | None]:
        return {
            fasting.Intake.DRINK: self.last_drink_at,
            fasting.Intake.MILK: self.last_milk_at,
            fasting.Intake.FOOD: self.last_food_at,
        }

    def thirsty_minutes(self, *, rules: fasting.FastingRules, now: datetime) -> int | None:
        """While a delayed child waits: minutes without a clear drink, once past the clinic's limit."""
        if not self.is_active or self.started_at is not None or self.running_late_minutes <= 0:
            return None
        return fasting.thirsty_minutes(
            rules,
            sedation=self.sedation,
            last_drink_at=self.last_drink_at,
            now=now,
            limit_hours=self.location.thirst_alert_hours,
        )

    def fasted(self, policy: FastingPolicy | None = None) -> list[fasting.Fasted]:
        """How long the child really went without each thing, up to the real start (or the booked one)."""
        start = self.started_at or self.scheduled_start
        return fasting.fasted(self.fasting_plan(policy), start=start, last=self.last_intake)
