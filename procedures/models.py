from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.templatetags.tz import do_timezone
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.models import Language, Role

from .phones import validate_phone

if TYPE_CHECKING:
    from portal.models import User


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            _("“%(value)s” is not a known time zone. Use a name such as America/Chicago."),
            code="unknown_time_zone",
            params={"value": value},
        )


class LocationQuerySet(models.QuerySet["Location"]):
    def visible_to(self, user: User) -> LocationQuerySet:
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.role == Role.ADMIN:
            return self.all()
        if user.role == Role.NURSE:
            return self.filter(nurses=user)
        return self.none()


class Location(models.Model):
    """A clinic or procedure unit. Its time zone decides every time shown."""

    name = models.CharField(_("name"), max_length=120)
    address = models.CharField(_("address"), max_length=255, blank=True)
    phone = models.CharField(_("phone to call"), max_length=20, validators=[validate_phone])
    timezone = models.CharField(
        _("time zone"), max_length=64, default="America/Chicago", validators=[validate_time_zone]
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
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def localize(self, value: datetime) -> datetime:
        # do_timezone marks the result so templates show it as is instead of
        # converting it back to the request's time zone.
        return do_timezone(value, self.tz)


class Feeding(models.TextChoices):
    BREAST_MILK = "breast_milk", _("Breast milk")
    FORMULA = "formula", _("Formula")
    REGULAR = "regular", _("Regular diet")


class PatientQuerySet(models.QuerySet["Patient"]):
    def visible_to(self, user: User) -> PatientQuerySet:
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.role == Role.ADMIN:
            return self.all()
        if user.role == Role.NURSE:
            return self.filter(location__nurses=user)
        return self.filter(guardians__user=user)


class Patient(models.Model):
    """The child."""

    first_name = models.CharField(_("first name"), max_length=80)
    last_name = models.CharField(_("last name"), max_length=80)
    date_of_birth = models.DateField(_("date of birth"))
    mrn = models.CharField(_("MRN"), max_length=32, unique=True, help_text=_("Medical record number."))
    feeding = models.CharField(_("feeding"), max_length=16, choices=Feeding.choices, default=Feeding.REGULAR)
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


class GuardianQuerySet(models.QuerySet["Guardian"]):
    def visible_to(self, user: User) -> GuardianQuerySet:
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.role == Role.ADMIN:
            return self.all()
        if user.role == Role.NURSE:
            return self.filter(patients__location__nurses=user).distinct()
        return self.filter(user=user)


class Guardian(models.Model):
    """A parent or guardian: the family side of a user account."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="guardian")
    mobile_number = models.CharField(
        _("mobile number"), max_length=20, blank=True, help_text=_("Stored in international form, e.g. +13125550142.")
    )
    relationship = models.CharField(_("relationship to the child"), max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = GuardianQuerySet.as_manager()

    class Meta:
        verbose_name = _("guardian")
        verbose_name_plural = _("guardians")

    def __str__(self) -> str:
        return self.user.full_name


class ProcedureKind(models.TextChoices):
    ASPIRATION = "aspiration", _("Bone marrow aspiration")
    BIOPSY = "biopsy", _("Bone marrow biopsy")
    BOTH = "both", _("Bone marrow aspiration and biopsy")


class Sedation(models.TextChoices):
    GENERAL = "general", _("General anaesthesia (asleep)")
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
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.role == Role.ADMIN:
            return self.all()
        if user.role == Role.NURSE:
            return self.filter(location__nurses=user)
        return self.filter(patient__guardians__user=user)

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


class Procedure(models.Model):
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
