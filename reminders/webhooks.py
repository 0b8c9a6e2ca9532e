"""Twilio callbacks: delivery status and inbound texts (STOP, START, HELP)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from xml.sax.saxutils import escape

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from portal.ratelimit import rate_limited
from procedures.models import Guardian, Location
from procedures.phones import display as phone_display

from .models import Reminder, Status, WebhookEvent
from .planning import sync_for_guardian

logger = logging.getLogger(__name__)

OPT_OUT = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
OPT_IN = {"START", "UNSTOP", "YES"}
HELP = {"HELP", "INFO"}

# Provider status -> ours. A status only ever moves forward.
STATUS_MAP = {
    "queued": Status.SENT,
    "accepted": Status.SENT,
    "sending": Status.SENT,
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "undelivered": Status.FAILED,
    "failed": Status.FAILED,
}
RANK = {Status.SENDING: 0, Status.SENT: 1, Status.DELIVERED: 2, Status.FAILED: 2}


def expected_signature(url: str, params: dict[str, str], token: str) -> str:
    """Twilio's scheme: HMAC-SHA1 of the URL followed by each POST key and value, sorted by key."""
    payload = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    digest = hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _signed(request: HttpRequest) -> bool:
    token = settings.TWILIO_AUTH_TOKEN
    given = request.headers.get("X-Twilio-Signature", "")
    if not token or not given:
        return False
    url = settings.SITE_URL + request.get_full_path()
    params = {key: request.POST.get(key, "") for key in request.POST}
    return hmac.compare_digest(expected_signature(url, params, token), given)


def _first_time(key: str) -> bool:
    try:
        with transaction.atomic():
            WebhookEvent.objects.create(provider="twilio", key=key[:128])
    except IntegrityError:
        return False
    return True


def _twiml(text: str = "") -> HttpResponse:
    body = f"<Message>{escape(text)}</Message>" if text else ""
    return HttpResponse(f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>', content_type="text/xml")


@csrf_exempt
@rate_limited("webhook", per_minute=600)
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    if not _signed(request):
        logger.warning("webhook signature rejected", extra={"hook": "twilio_status"})
        return HttpResponseForbidden("bad signature")
    sid = request.POST.get("MessageSid", "")[:64]
    provider_status = request.POST.get("MessageStatus", "").lower()
    new = STATUS_MAP.get(provider_status)
    if not sid or new is None or not _first_time(f"status:{sid}:{provider_status}"):
        return HttpResponse(status=204)
    with transaction.atomic():
        reminder = Reminder.objects.select_for_update().filter(provider_message_id=sid).first()
        if reminder is None or RANK.get(reminder.status, 3) >= RANK[new]:
            return HttpResponse(status=204)
        reminder.status = new
        now = timezone.now()
        if new == Status.DELIVERED:
            reminder.delivered_at = now
        if new == Status.FAILED:
            reminder.last_error = f"The phone company could not deliver it ({request.POST.get('ErrorCode', '?')})."[
                :300
            ]
        reminder.save(update_fields=["status", "delivered_at", "last_error", "updated_at"])
    return HttpResponse(status=204)


@csrf_exempt
@rate_limited("webhook", per_minute=600)
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    if not _signed(request):
        logger.warning("webhook signature rejected", extra={"hook": "twilio_inbound"})
        return HttpResponseForbidden("bad signature")
    sid = request.POST.get("MessageSid", "") or request.POST.get("SmsSid", "")
    if sid and not _first_time(f"inbound:{sid}"):
        return _twiml()
    number = request.POST.get("From", "")
    words = request.POST.get("Body", "").strip().upper().split()
    keyword = words[0] if words else ""
    guardians = list(Guardian.objects.filter(mobile_number=number).select_related("user"))
    if keyword in OPT_OUT:
        _set_opt_out(guardians, opted_out=True)
        return _twiml()
    if keyword in OPT_IN:
        _set_opt_out(guardians, opted_out=False)
        return _twiml()
    if keyword in HELP:
        return _twiml(_help_text(guardians))
    return _twiml()


def _set_opt_out(guardians: list[Guardian], *, opted_out: bool) -> None:
    now = timezone.now()
    for guardian in guardians:
        with transaction.atomic():
            Guardian.objects.filter(pk=guardian.pk).update(sms_opted_out_at=now if opted_out else None)
            guardian.refresh_from_db()
            sync_for_guardian(guardian)
        logger.info("sms opt-out changed", extra={"guardian_id": guardian.pk, "opted_out": opted_out})


def _help_text(guardians: list[Guardian]) -> str:
    location = Location.objects.filter(patients__guardians__in=guardians).first() if guardians else None
    language = guardians[0].user.language if guardians else "en"
    with translation.override(language):
        if location is None:
            return _("Marrow Ready appointment reminders. Reply STOP to stop texts.")
        return _("Marrow Ready reminders from %(clinic)s. Call %(phone)s. Reply STOP to stop texts.") % {
            "clinic": location.name,
            "phone": phone_display(location.phone),
        }
