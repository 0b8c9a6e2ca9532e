"""Education pages for families, their steps, and who has read them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .base import Bilingual


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
