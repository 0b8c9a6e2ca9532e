"""After the procedure: check-ins from the family and the warning-sign rules they are checked against."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.choices import ChoiceLabels

from .base import Bilingual
from .care import Procedure


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


class SymptomReport(ChoiceLabels, models.Model):
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
