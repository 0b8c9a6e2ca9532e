"""The family's readiness checklist: pages read, fasting acknowledged, questions, contact."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models import Count, Exists, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.models import User

from . import fasting
from .models import EducationPage, PageView, PreparedQuestion, Procedure, Readiness

BONE_MARROW = "bone-marrow"

# The questions families most often want answered, offered ready-made.
STANDARD_QUESTIONS = {
    "why": _("Why does my child need this test?"),
    "sleep": _("Will my child be asleep, or given medicine to relax?"),
    "how_long": _("How long will it take?"),
    "pain": _("Will it hurt during or after the test? What helps?"),
    "who_to_call": _("Who do we call if we have a question or a problem afterwards?"),
    "results": _("How and when will we get the results?"),
}


@dataclass(frozen=True)
class Checklist:
    """The readiness rule, once: what counts as done, and out of how many."""

    pages_read: int
    pages_total: int
    fasting_needed: bool
    fasting_acknowledged: bool
    questions: int
    contact_confirmed: bool

    @property
    def pages_done(self) -> bool:
        return self.pages_total > 0 and self.pages_read >= self.pages_total

    @property
    def done(self) -> int:
        steps = [self.pages_done, self.questions > 0, self.contact_confirmed]
        if self.fasting_needed:
            steps.append(self.fasting_acknowledged)
        return sum(steps)

    @property
    def total(self) -> int:
        return 4 if self.fasting_needed else 3


def education_pages(procedure_type: str = BONE_MARROW) -> QuerySet[EducationPage]:
    return EducationPage.objects.filter(procedure_type__slug=procedure_type).order_by("order")


def record_page_view(*, user: User | AnonymousUser, page: EducationPage) -> None:
    """Only a signed-in guardian's reading is kept: it counts towards their checklist."""
    if not (user.is_authenticated and user.is_guardian):
        return
    now = timezone.now()
    updated = PageView.objects.filter(user=user, page=page).update(last_viewed_at=now)
    if not updated:
        PageView.objects.get_or_create(user=user, page=page, defaults={"first_viewed_at": now, "last_viewed_at": now})


def pages_read(*, user: User | AnonymousUser, pages: list[EducationPage]) -> set[int]:
    """Ids of the pages this visitor has read; nobody's, for a visitor who is not signed in."""
    if not user.is_authenticated:
        return set()
    return set(PageView.objects.filter(user=user, page__in=pages).values_list("page_id", flat=True))


def checklist_of(procedure: Procedure) -> Checklist:
    """The checklist of a procedure annotated by `with_readiness`."""
    return Checklist(
        pages_read=procedure.pages_read,
        pages_total=procedure.pages_total,
        fasting_needed=fasting.needs_fasting(procedure.sedation),
        fasting_acknowledged=procedure.fasting_acknowledged,
        questions=procedure.questions_prepared,
        contact_confirmed=procedure.contact_confirmed,
    )


def checklist(*, procedure: Procedure, user: User) -> Checklist:
    """One guardian's checklist for one procedure."""
    return checklist_of(with_readiness(Procedure.objects.filter(pk=procedure.pk), user=user).get())


@transaction.atomic
def acknowledge_fasting(*, procedure: Procedure, user: User, version: int) -> bool:
    """Record that this guardian read the fasting plan of this version.

    Returns False when the plan changed since the page was shown: the
    guardian must read the new times before acknowledging them.
    """
    current = Procedure.objects.select_for_update().get(pk=procedure.pk)
    if current.version != version or not current.is_active:
        return False
    Readiness.objects.update_or_create(
        procedure=current, user=user, defaults={"fasting_ack_version": version, "fasting_ack_at": timezone.now()}
    )
    return True


def confirm_contact(*, procedure: Procedure, user: User, number: str) -> None:
    Readiness.objects.update_or_create(
        procedure=procedure,
        user=user,
        defaults={"contact_confirmed_at": timezone.now(), "contact_confirmed_number": number},
    )


def with_readiness(procedures: QuerySet[Procedure], user: User | None = None) -> QuerySet[Procedure]:
    """Annotate each procedure with what `checklist_of` needs, in the same query.

    For one guardian (`user`), their own progress; else the family's, where the
    best of the child's guardians counts: one parent having read everything
    means the family has.
    """
    pages = education_pages()
    mine = {"user": user} if user is not None else {}
    if user is not None:
        read = PageView.objects.filter(user=user, page__in=pages).values("user")
    else:
        read = PageView.objects.filter(user__guardian__patients=OuterRef("patient"), page__in=pages).values("user")
    pages_read = read.annotate(n=Count("page")).order_by("-n").values("n")[:1]
    questions = (
        PreparedQuestion.objects.filter(procedure=OuterRef("pk"), **mine)
        .values("procedure")
        .annotate(n=Count("pk"))
        .values("n")
    )
    # In the same statement, not a query of its own.
    total = pages.order_by().values("procedure_type").annotate(n=Count("pk")).values("n")
    return procedures.annotate(
        pages_total=Coalesce(Subquery(total, output_field=IntegerField()), 0),
        pages_read=Coalesce(Subquery(pages_read, output_field=IntegerField()), 0),
        fasting_acknowledged=Exists(
            Readiness.objects.filter(procedure=OuterRef("pk"), fasting_ack_version=OuterRef("version"), **mine)
        ),
        questions_prepared=Coalesce(Subquery(questions, output_field=IntegerField()), 0),
        contact_confirmed=Exists(
            Readiness.objects.filter(procedure=OuterRef("pk"), contact_confirmed_at__isnull=False, **mine)
        ),
    )


@transaction.atomic
def save_questions(*, procedure: Procedure, user: User, standard: list[str], own: str) -> None:
    saved = PreparedQuestion.objects.filter(procedure=procedure, user=user)
    saved.exclude(standard_key="").exclude(standard_key__in=standard).delete()
    have = set(saved.exclude(standard_key="").values_list("standard_key", flat=True))
    PreparedQuestion.objects.bulk_create(
        PreparedQuestion(procedure=procedure, user=user, standard_key=key)
        for key in standard
        if key in STANDARD_QUESTIONS and key not in have
    )
    if own.strip():
        PreparedQuestion.objects.create(procedure=procedure, user=user, text=own.strip())


def question_texts(questions: QuerySet[PreparedQuestion]) -> list[tuple[int, str]]:
    """Each saved question with its words in the reader's language."""
    return [(q.pk, str(STANDARD_QUESTIONS.get(q.standard_key, "")) or q.text) for q in questions]
