"""The nurses' work queue of messages that could not be applied."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .intake import try_again
from .models import InboundMessage, MessageStatus

PAGE_SIZE = 25

View = Callable[..., HttpResponse]


def care_team_only(view: View) -> View:
    """Nurses and admins; anyone else gets the same 404 as for a missing page."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_care_team:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


def _visible(request: HttpRequest) -> Any:
    return InboundMessage.objects.visible_to(request.user).select_related("system")


@care_team_only
def message_list(request: HttpRequest) -> HttpResponse:
    queue = _visible(request).to_fix().defer("raw").order_by("received_at", "pk")
    page = Paginator(queue, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "feed/message_list.html", {"page": page, "query": ""})


@care_team_only
def message_detail(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(_visible(request).select_related("procedure__patient"), pk=pk)
    return render(request, "feed/message_detail.html", {"message": message, "can_retry": _can_retry(message)})


def _can_retry(message: InboundMessage) -> bool:
    return message.status == MessageStatus.FAILED


@care_team_only
@require_POST
def message_retry(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(_visible(request), pk=pk)
    if not _can_retry(message):
        messages.info(request, _("This message no longer needs anything: it was applied or replaced."))
        return redirect("nurse:feed_message_detail", pk=message.pk)
    outcome = try_again(message)
    if outcome.status == MessageStatus.FAILED:
        messages.error(request, _("Still not applied: %(reason)s") % {"reason": outcome.reason})
        return redirect("nurse:feed_message_detail", pk=message.pk)
    messages.success(request, _("Applied. It has left the list."))
    return redirect("nurse:feed_message_list")
