from __future__ import annotations

import datetime as dt
import zoneinfo
from datetime import datetime
from datetime import time as dt_time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q, QuerySet
from django.templatetags.tz import datetimeobject
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from portal.models import Language, Role
from portal.phones import validate_phone

from . import fasting

if TYPE_CHECKING:
    from portal.models import User


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            _("“%(value)s” is not a known time zone. Use a name such as America/Chicago."),
            code="unknown_time_zone",
            params={"value": value},
        )


def scoped(queryset: QuerySet[Any], user: User, *, nurse: Q, guardian: Q | None) -> QuerySet[Any]:
    """The one rule for who sees patient data: admins all, nurses their clinics', guardians their own."""
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.role == Role.ADMIN:
        return queryset.all()
    if user.role == Role.NURSE:
        return queryset.filter(nurse)
    return queryset.filter(guardian) if guardian is not None else queryset.none()


class NonexistentTime(ValueError):
    """A clock time that does not happen on that day at the clinic: the clocks go forward over it."""


class LocationQuerySet(models.QuerySet["Location"]):
    def visible_to(self, user: User) -> LocationQuerySet:
        return scoped(self, user, nurse=Q(nurses=user), guardian=None)

    def for_family(self, user: User) -> LocationQuerySet:
        """The clinics a guardian may need to call: each child's own, and where a recent or coming visit is."""
        children = Patient.objects.visible_to(user)
        # Two weeks covers the days of check-ins after a visit.
        visits = Procedure.objects.filter(
            patient__in=children, scheduled_start__gte=timezone.now() - timezone.timedelta(days=14)
        ).exclude(status=ProcedureStatus.CANCELLED)
        return self.filter(Q(pk__in=children.values("location")) | Q(pk__in=visits.values("location")))


class Location(models.Model):
    """A clinic or procedure unit. Its time zone decides every time shown."""

    name = models.CharField(_("name"), max_length=120)
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

    @property
    def parking(self) -> str:
        return Bilingual.in_language(self, "parking")  # type: ignore[arg-type]

    @property
    def directions(self) -> str:
        return Bilingual.in_language(self, "directions")  # type: ignore[arg-type]

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


class Patient(models.Model):
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


class Guardian(models.Model):
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
    # On the day: minutes later (or, if negative, earlier) than first booked.
    running_late_minutes = models.IntegerField(_("running late (minutes)"), default=0)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
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


# --- Fasting policy ---------------------------------------------------------------

_HOURS = {
    "max_digits": 4,
    "decimal_places": 2,
    "validators": [MinValueValidator(Decimal("0.25")), MaxValueValidator(Decimal("24"))],
}


class FastingAnchor(models.TextChoices):
    ARRIVAL = "arrival", _("Arrival time")
    START = "start", _("Procedure start")


class FastingPolicy(models.Model):
    """How long before the anchor time each kind of food and drink must stop.

    One row per institution; the newest active row is the one in force.
    Defaults follow current pediatric anesthesia guidance.
    """

    name = models.CharField(_("name"), max_length=120, default="Standard paediatric fasting")
    solids_hours = models.DecimalField(_("solid food (hours)"), default=Decimal("6"), **_HOURS)
    fatty_food_hours = models.DecimalField(_("fatty or fried food (hours)"), default=Decimal("8"), **_HOURS)
    formula_hours = models.DecimalField(_("formula and non-human milk (hours)"), default=Decimal("6"), **_HOURS)
    breast_milk_hours = models.DecimalField(_("breast milk (hours)"), default=Decimal("4"), **_HOURS)
    clear_fluids_hours = models.DecimalField(_("clear fluids (hours)"), default=Decimal("1"), **_HOURS)
    anchor = models.CharField(
        _("count back from"), max_length=16, choices=FastingAnchor.choices, default=FastingAnchor.ARRIVAL
    )
    is_active = models.BooleanField(_("in force"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("fasting policy")
        verbose_name_plural = _("fasting policies")

    def __str__(self) -> str:
        return self.name

    @classmethod
    def current(cls) -> FastingPolicy:
        """The policy in force, or the defaults if an admin has not saved one."""
        return cls.objects.filter(is_active=True).order_by("-updated_at").first() or cls()

    def rules(self) -> fasting.FastingRules:
        return fasting.FastingRules(
            solids_hours=self.solids_hours,
            fatty_food_hours=self.fatty_food_hours,
            formula_hours=self.formula_hours,
            breast_milk_hours=self.breast_milk_hours,
            clear_fluids_hours=self.clear_fluids_hours,
            anchor=fasting.Anchor(self.anchor),
        )


# --- Education ----------------------------------------------------------------------


class ProcedureType(models.Model):
    """What the education pages are about. Bone marrow ships; others can be added."""

    slug = models.SlugField(unique=True)
    name_en = models.CharField(_("name (English)"), max_length=120)
    name_es = models.CharField(_("name (Spanish)"), max_length=120)

    class Meta:
        verbose_name = _("procedure type")
        verbose_name_plural = _("procedure types")

    def __str__(self) -> str:
        return self.name_en


class Bilingual:
    """Pick the English or Spanish version of a field for the active language."""

    def in_language(self, field: str) -> str:
        language = (get_language() or "en")[:2]
        value = getattr(self, f"{field}_{language}", "") if language in ("en", "es") else ""
        return value or getattr(self, f"{field}_en")


class EducationPage(Bilingual, models.Model):
    procedure_type = models.ForeignKey(ProcedureType, on_delete=models.CASCADE, related_name="pages")
    slug = models.SlugField()
    order = models.PositiveSmallIntegerField(_("order"))
    title_en = models.CharField(_("title (English)"), max_length=120)
    title_es = models.CharField(_("title (Spanish)"), max_length=120)
    body_en = models.TextField(
        _("text (English)"),
        help_text=_('Blank line between paragraphs; "- " starts a bullet; "## " starts a heading. No HTML.'),
    )
    body_es = models.TextField(_("text (Spanish)"))
    reviewed_on = models.DateField(_("reviewed on"))

    class Meta:
        ordering = ["procedure_type", "order"]
        verbose_name = _("education page")
        verbose_name_plural = _("education pages")
        constraints = [
            models.UniqueConstraint(fields=["procedure_type", "slug"], name="education_page_slug_unique"),
            models.UniqueConstraint(fields=["procedure_type", "order"], name="education_page_order_unique"),
        ]

    def __str__(self) -> str:
        return self.title_en

    @property
    def title(self) -> str:
        return self.in_language("title")

    @property
    def body(self) -> str:
        return self.in_language("body")


class EducationStep(Bilingual, models.Model):
    """One screen of a step-by-step walk-through page."""

    page = models.ForeignKey(EducationPage, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField(_("order"))
    title_en = models.CharField(_("title (English)"), max_length=120)
    title_es = models.CharField(_("title (Spanish)"), max_length=120)
    text_en = models.TextField(_("text (English)"))
    text_es = models.TextField(_("text (Spanish)"))
    image = models.CharField(_("illustration"), max_length=200, help_text=_("Path under static/, e.g. img/steps/x.svg"))
    alt_en = models.CharField(_("image description (English)"), max_length=200)
    alt_es = models.CharField(_("image description (Spanish)"), max_length=200)

    class Meta:
        ordering = ["page", "order"]
        verbose_name = _("walk-through step")
        verbose_name_plural = _("walk-through steps")
        constraints = [models.UniqueConstraint(fields=["page", "order"], name="education_step_order_unique")]

    def __str__(self) -> str:
        return f"{self.page.slug} {self.order}: {self.title_en}"

    @property
    def title(self) -> str:
        return self.in_language("title")

    @property
    def text(self) -> str:
        return self.in_language("text")

    @property
    def alt(self) -> str:
        return self.in_language("alt")


class PageView(models.Model):
    """A guardian has opened an education page (first and latest time)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="page_views")
    page = models.ForeignKey(EducationPage, on_delete=models.CASCADE, related_name="views")
    first_viewed_at = models.DateTimeField(default=timezone.now)
    last_viewed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "page"], name="page_view_once_per_user")]

    def __str__(self) -> str:
        return f"User {self.user_id} read page {self.page_id}"


# --- Readiness ----------------------------------------------------------------------


class Readiness(models.Model):
    """One guardian's checklist for one procedure: who did what, when."""

    procedure = models.ForeignKey(Procedure, on_delete=models.CASCADE, related_name="readiness")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="readiness")
    fasting_ack_version = models.PositiveIntegerField(null=True, blank=True)
    fasting_ack_at = models.DateTimeField(null=True, blank=True)
    contact_confirmed_at = models.DateTimeField(null=True, blank=True)
    contact_confirmed_number = models.CharField(max_length=20, blank=True)

    class Meta:
        verbose_name = _("readiness checklist")
        verbose_name_plural = _("readiness checklists")
        constraints = [models.UniqueConstraint(fields=["procedure", "user"], name="readiness_once_per_guardian")]

    def __str__(self) -> str:
        return f"Readiness of user {self.user_id} for procedure {self.procedure_id}"


class PreparedQuestion(models.Model):
    """A question a guardian wants to ask the care team, from the list or their own."""

    procedure = models.ForeignKey(Procedure, on_delete=models.CASCADE, related_name="questions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="questions")
    standard_key = models.CharField(max_length=32, blank=True)
    text = models.CharField(_("question"), max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["procedure", "user", "standard_key"],
                condition=~Q(standard_key=""),
                name="prepared_question_standard_once",
            )
        ]

    def __str__(self) -> str:
        return f"Question {self.pk}"


# --- After the procedure: check-ins and warning signs -------------------------------------


class TemperatureUnit(models.TextChoices):
    CELSIUS = "C", _("°C")
    FAHRENHEIT = "F", _("°F")


class Pain(models.TextChoices):
    """Answers to the pain question. Which ones a family sees depends on the day: see aftercare.pain_question."""

    NONE = "none", _("No pain")
    SOME = "some", _("Some pain")
    A_LOT = "a_lot", _("A lot of pain")
    BETTER = "better", _("Better than yesterday")
    SAME = "same", _("About the same as yesterday")
    WORSE = "worse", _("Worse than yesterday")


class SymptomField(models.TextChoices):
    TEMPERATURE = "temperature", _("Temperature at or above the clinic's fever threshold")
    CHILLS = "chills", _("Chills")
    BLEEDING = "bleeding", _("Bleeding that does not stop after pressing")
    REDNESS = "redness", _("Redness at the site")
    SWELLING = "swelling", _("Swelling at the site")
    OOZING = "oozing", _("Oozing at the site")
    BAD_SMELL = "bad_smell", _("A bad smell at the site")
    PAIN_WORSE = "pain_worse", _("Pain worse than yesterday")


class RedFlagRule(Bilingual, models.Model):
    """One warning sign that asks the family to call now and alerts the care team."""

    code = models.SlugField(unique=True)
    field = models.CharField(_("what it looks at"), max_length=16, choices=SymptomField.choices)
    is_active = models.BooleanField(_("in use"), default=True)
    label_en = models.CharField(_("what the family sees (English)"), max_length=160)
    label_es = models.CharField(_("what the family sees (Spanish)"), max_length=160)

    class Meta:
        ordering = ["code"]
        verbose_name = _("warning sign rule")
        verbose_name_plural = _("warning sign rules")

    def __str__(self) -> str:
        return self.code

    @property
    def label(self) -> str:
        return self.in_language("label")


class SymptomReportQuerySet(models.QuerySet["SymptomReport"]):
    def open_flags(self) -> SymptomReportQuerySet:
        return self.filter(needs_attention=True, acknowledged_at__isnull=True)


class SymptomReport(models.Model):
    """A family's check-in after the procedure. The free text stays out of logs and emails."""

    procedure = models.ForeignKey(Procedure, on_delete=models.CASCADE, related_name="symptom_reports")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="symptom_reports")
    temperature = models.DecimalField(_("temperature"), max_digits=4, decimal_places=1, null=True, blank=True)
    temperature_unit = models.CharField(
        _("unit"), max_length=1, choices=TemperatureUnit.choices, default=TemperatureUnit.FAHRENHEIT
    )
    temperature_c = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    chills = models.BooleanField(_("chills or shivering"), default=False)
    bleeding = models.BooleanField(_("bleeding that has not stopped after pressing on it"), default=False)
    redness = models.BooleanField(_("redness"), default=False)
    swelling = models.BooleanField(_("swelling"), default=False)
    oozing = models.BooleanField(_("oozing or fluid coming out"), default=False)
    bad_smell = models.BooleanField(_("a bad smell"), default=False)
    # Blank when the family left the question unanswered: never assume "no pain".
    pain = models.CharField(_("pain"), max_length=8, choices=Pain.choices, blank=True)
    notes = models.TextField(_("anything else"), max_length=1000, blank=True)
    flags = models.JSONField(default=list, blank=True)
    needs_attention = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    objects = SymptomReportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")
        indexes = [
            # The nurse dashboard: open warning signs, oldest first.
            models.Index(
                fields=["created_at"],
                name="symptom_open_flags",
                condition=Q(needs_attention=True, acknowledged_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"Check-in {self.pk} for procedure {self.procedure_id}"
