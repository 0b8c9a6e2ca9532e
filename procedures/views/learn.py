"""The education pages, open to anyone: the steps of the test for families and for children."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy

from .. import readiness
from ..models import (
    EducationPage,
)

# The walk-through's pictures, told for a child of about 5 to 12 (reading grade 3 at most).
FOR_CHILDREN_STEPS = (
    (
        "img/steps/step-1-numbing.svg",
        gettext_lazy("A hand puts cream on a back."),
        gettext_lazy("A nurse puts cream or a tiny shot on your back. Your skin goes numb. Then it can not feel much."),
    ),
    (
        "img/steps/step-2-lying.svg",
        gettext_lazy("A kid lies on a bed with a pillow."),
        gettext_lazy("You lie on your side on a bed. You can hold a pillow."),
    ),
    (
        "img/steps/step-3-finding.svg",
        gettext_lazy("Two fingers press on a hip bone."),
        gettext_lazy("The doctor feels your back. They look for the right spot on your hip bone."),
    ),
    (
        "img/steps/step-4-cleaning.svg",
        gettext_lazy("A sponge cleans a spot of skin."),
        gettext_lazy("They wash the spot. It feels cold!"),
    ),
    (
        "img/steps/step-5-needle.svg",
        gettext_lazy("A needle near the hip bone."),
        gettext_lazy("The doctor puts in a needle. If you are awake, you will feel a big push."),
    ),
    (
        "img/steps/step-6-drawing.svg",
        gettext_lazy("A tube fills with red stuff."),
        gettext_lazy(
            "The doctor takes a little marrow. It looks like blood. It may hurt for a short time. Then it stops."
        ),
    ),
    (
        "img/steps/step-7-more.svg",
        gettext_lazy("Two small tubes side by side."),
        gettext_lazy("Sometimes they need a bit more. That is OK. Your body makes new marrow fast."),
    ),
    (
        "img/steps/step-8-bandage.svg",
        gettext_lazy("A bandage on a back, and a happy kid."),
        gettext_lazy("All done! You get a bandage. It all takes about half an hour."),
    ),
)


# --- Education ----------------------------------------------------------------------


# The general pages are public: they hold no patient data, and a parent can open them
# from a link without an account. A child's own times stay behind the log-in.


def learn_index(request: HttpRequest) -> HttpResponse:
    pages = list(readiness.education_pages())
    read = readiness.pages_read(user=request.user, pages=pages)
    return render(request, "procedures/learn/index.html", {"pages": pages, "read": read})


def learn_for_children(request: HttpRequest) -> HttpResponse:
    return render(request, "procedures/learn/for_children.html", {"steps": FOR_CHILDREN_STEPS})


def _page_and_neighbours(slug: str) -> tuple[EducationPage, EducationPage | None, EducationPage | None]:
    pages = list(readiness.education_pages().prefetch_related("steps"))
    for index, page in enumerate(pages):
        if page.slug == slug:
            previous = pages[index - 1] if index > 0 else None
            following = pages[index + 1] if index + 1 < len(pages) else None
            return page, previous, following
    raise Http404


def learn_page(request: HttpRequest, slug: str) -> HttpResponse:
    page, previous, following = _page_and_neighbours(slug)
    steps = list(page.steps.all())
    if steps:
        return redirect("learn:step", slug=slug, number=1)
    readiness.record_page_view(user=request.user, page=page)
    return render(
        request,
        "procedures/learn/page.html",
        {"page": page, "previous": previous, "next": following},
    )


def learn_step(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    page, previous, following = _page_and_neighbours(slug)
    steps = list(page.steps.all())
    if not 1 <= number <= len(steps):
        raise Http404
    if number == len(steps):
        # Reaching the last step counts as reading the walk-through.
        readiness.record_page_view(user=request.user, page=page)
    return render(
        request,
        "procedures/learn/step.html",
        {
            "page": page,
            "step": steps[number - 1],
            "number": number,
            "total": len(steps),
            "percent": round(number * 100 / len(steps)),
            "previous_page": previous,
            "next_page": following,
        },
    )
