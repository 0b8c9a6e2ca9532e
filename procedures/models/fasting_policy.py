"""The fasting policy in force: hours per item, set by the hospital (the plan itself is procedures.fasting)."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any
from uuid import uuid4

from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _

from .. import fasting

_HOURS = {
    "max_digits": 4,
    "decimal_places": 2,
    "validators": [MinValueValidator(Decimal("0.25")), MaxValueValidator(Decimal("24"))],
}

logger = logging.getLogger(__name__)

# The policy in force is read on every family page and changes a few times a year. It is kept in the
# shared cache beside a version; every save or delete gives a new version (at once and again on commit), and
# a copy is used only if it was stored under the current version. A reader that loaded the old policy
# while a change was being committed stores it under the old version, where nobody will use it.
VERSION_KEY = "fasting-policy:version"
_HELD = "fasting-policy:current"
# A backstop should the cache miss a new version (Redis briefly unreachable during a change).
_HELD_SECONDS = 300


def shared_cache() -> Any:
    """The cache, if every process sees the same one (Redis); None for a process-local or dummy cache."""
    store = caches["default"]
    return None if isinstance(store, (LocMemCache, DummyCache)) else store


# Set on the database connection while its transaction holds a policy change not yet committed:
# that transaction reads the table (it alone sees the change) and never puts what it read in the cache.
_PENDING = "fasting_policy_change_pending"


def _change_pending() -> bool:
    connection = transaction.get_connection()
    if not connection.in_atomic_block:  # committed or rolled back: nothing of it is pending any more
        setattr(connection, _PENDING, False)
    return getattr(connection, _PENDING, False)


def _new_version() -> None:
    store = shared_cache()
    if store is None:
        return
    try:
        store.set(VERSION_KEY, uuid4().hex, None)
    except Exception:
        logger.exception("Could not mark the cached fasting policy as changed")


def cached_version(store: Any, found: dict[str, Any]) -> Any:
    """The version of the policy kept in `store` (as read into `found`), made now if there is none yet.

    What is kept beside the policy (the family pages) compares this version, read before the policy itself.
    """
    version = found.get(VERSION_KEY)
    if version is None:
        store.add(VERSION_KEY, uuid4().hex, None)
        version = store.get(VERSION_KEY)
    return version


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
        store = shared_cache()
        if store is None or _change_pending():
            return cls._in_force()
        try:
            found = store.get_many([VERSION_KEY, _HELD])
        except Exception:
            logger.exception("Could not read the cached fasting policy")
            return cls._in_force()
        version, held = found.get(VERSION_KEY), found.get(_HELD)
        if version is not None and held is not None and held[0] == version:
            return held[1]
        policy = cls._in_force()
        try:
            if version is None:
                store.add(VERSION_KEY, uuid4().hex, None)  # kept from the next read on
            else:
                store.set(_HELD, (version, policy), _HELD_SECONDS)
        except Exception:
            logger.exception("Could not keep the fasting policy in the cache")
        return policy

    @classmethod
    def _in_force(cls) -> FastingPolicy:
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


@receiver(post_save, sender=FastingPolicy, dispatch_uid="fasting-policy-saved")
@receiver(post_delete, sender=FastingPolicy, dispatch_uid="fasting-policy-deleted")
def _policy_changed(**kwargs: Any) -> None:
    """Any save or delete (the admin's bulk delete too): a new version now, and again once it is committed."""
    setattr(transaction.get_connection(), _PENDING, True)
    _new_version()
    transaction.on_commit(_new_version)
