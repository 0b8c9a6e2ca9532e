"""The fasting policy in force: hours per item, set by the hospital (the plan itself is procedures.fasting)."""

from __future__ import annotations

import logging
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from .. import fasting

_HOURS = {
    "max_digits": 4,
    "decimal_places": 2,
    "validators": [MinValueValidator(Decimal("0.25")), MaxValueValidator(Decimal("24"))],
}

logger = logging.getLogger(__name__)

# The policy in force is read from the database, one indexed row, wherever it is needed: pages and
# senders share one notion of "current" whoever wrote the row (the admin, a script, a restore). The kept
# pages are kept under a counter its table's trigger moves (procedures/page_cache.py).


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
