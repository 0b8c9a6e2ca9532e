"""A family's readiness for one procedure: fasting acknowledged, contact confirmed, questions prepared."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .care import Procedure


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
