"""The family's readiness checklist: pages read, fasting acknowledged, questions, contact."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models import BooleanField, Expression, Field, IntegerField, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.models import User

from . import fasting
from .models import EducationPage, Guardian, PageView, Patient, PreparedQuestion, Procedure, Readiness

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
        # Once done or cancelled there is no fast left to confirm.
        fasting_needed=procedure.is_active and fasting.needs_fasting(procedure.sedation),
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


class _Fact(Expression):
    """One fact of the checklist about each row's procedure: a statement written once, not built per request.

    Building the same five correlated subqueries through the ORM cost more than the rest of a
    family page's queries; this writes them once and only fills in the row's alias (the
    procedure table's, or its alias when the list is itself a subquery).
    """

    def __init__(self, sql: str, params: tuple[object, ...], output_field: Field) -> None:
        super().__init__(output_field=output_field)
        self.sql, self.params = sql, params

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[object, ...]]:
        row = compiler.quote_name_unless_alias(compiler.query.base_table)
        return f"({self.sql.replace('{row}', row)})", self.params


# Each fact's statement: {row} is the procedure row's alias, {pages} the statement of
# education_pages() (compiled once, its parameters first), the other names are tables and,
# for one guardian's own progress, {ready_mine}/{asked_mine} their condition (their id a parameter).
_FACTS = {
    "pages_total": "SELECT COUNT(*) FROM {page} page WHERE page.id IN ({pages})",
    "fasting_acknowledged": "EXISTS(SELECT 1 FROM {ready} ready WHERE ready.procedure_id = {row}.id"
    " AND ready.fasting_ack_version = {row}.version{ready_mine})",
    "questions_prepared": "SELECT COUNT(*) FROM {asked} asked WHERE asked.procedure_id = {row}.id{asked_mine}",
    "contact_confirmed": "EXISTS(SELECT 1 FROM {ready} ready WHERE ready.procedure_id = {row}.id"
    " AND ready.contact_confirmed_at IS NOT NULL{ready_mine})",
}
# Pages read: one guardian's own, or the family's (that of the child's guardian who has read the most).
_READ = {
    True: "COALESCE((SELECT COUNT(*) FROM {view} seen WHERE seen.page_id IN ({pages}) AND seen.user_id = %s), 0)",
    False: "COALESCE((SELECT COUNT(*) FROM {view} seen"
    " JOIN {guardian} guardian ON guardian.user_id = seen.user_id JOIN {links} link ON link.guardian_id = guardian.id"
    " WHERE seen.page_id IN ({pages}) AND link.patient_id = {row}.patient_id"
    " GROUP BY seen.user_id ORDER BY COUNT(*) DESC LIMIT 1), 0)",
}


@functools.cache
def _facts_sql(per_guardian: bool) -> tuple[dict[str, str], tuple[object, ...]]:
    """Each fact's statement, and the parameters of the pages' statement in it.

    `per_guardian`: one guardian's own progress.
    """
    pages, pages_params = education_pages().order_by().values("pk").query.sql_with_params()
    names = {
        "pages": pages,
        "page": EducationPage._meta.db_table,
        "view": PageView._meta.db_table,
        "ready": Readiness._meta.db_table,
        "asked": PreparedQuestion._meta.db_table,
        "guardian": Guardian._meta.db_table,
        "links": Patient.guardians.through._meta.db_table,
        "row": "{row}",
        "ready_mine": " AND ready.user_id = %s" if per_guardian else "",
        "asked_mine": " AND asked.user_id = %s" if per_guardian else "",
    }
    facts = {name: template.format_map(names) for name, template in _FACTS.items()}
    facts["pages_read"] = _READ[per_guardian].format_map(names)
    return facts, tuple(pages_params)


def with_readiness(procedures: QuerySet[Procedure], user: User | None = None) -> QuerySet[Procedure]:
    """Annotate each procedure with what `checklist_of` needs, in the same query.

    For one guardian (`user`), their own progress; else the family's, where the
    best of the child's guardians counts: one parent having read everything
    means the family has.
    """
    sql, pages = _facts_sql(user is not None)
    mine: tuple[object, ...] = (user.pk,) if user is not None else ()
    count, flag = IntegerField(), BooleanField()
    return procedures.annotate(
        pages_total=_Fact(sql["pages_total"], pages, count),
        pages_read=_Fact(sql["pages_read"], (*pages, *mine), count),
        fasting_acknowledged=_Fact(sql["fasting_acknowledged"], mine, flag),
        questions_prepared=_Fact(sql["questions_prepared"], mine, count),
        contact_confirmed=_Fact(sql["contact_confirmed"], mine, flag),
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
