"""Twilio callbacks: delivery status and inbound texts (STOP, START, HELP in English and Spanish)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from functools import partial, wraps

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden, QueryDict
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from portal.phones import display as phone_display
from portal.ratelimit import throttled
from procedures.models import Guardian, Location

from . import replies
from .models import EarlyStatus, Reminder, Reply, Status, WebhookEvent
from .planning import sync_for_guardian

logger = logging.getLogger(__name__)

PROVIDER = "twilio"

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
# A hand-over with no clear answer (unknown) moves too: a callback is the provider's answer.
RANK = {Status.SENDING: 0, Status.UNKNOWN: 0, Status.SENT: 1, Status.DELIVERED: 2, Status.FAILED: 2}

# Twilio's own values are far shorter; anything longer (or holding a NUL) is not a real callback.
FIELD_LIMITS = {"MessageSid": 64, "SmsSid": 64, "From": 64, "MessageStatus": 32, "ErrorCode": 16, "Body": 1600}

# Unsigned requests only: a signed callback is never slowed down, so a burst of
# status callbacks cannot hold up a STOP.
UNSIGNED_PER_MINUTE = 600

View = Callable[[HttpRequest], HttpResponse]


# --- Keywords -------------------------------------------------------------
# Consent can be revoked "by any reasonable means" (FCC, 2024): the words it
# names, their Spanish counterparts, in any case, with or without accents,
# punctuation or a "please".

OPT_OUT, OPT_IN, HELP = "opt-out", "opt-in", "help"

# fmt: off
KEYWORDS = {
    OPT_OUT: {
        "en": ["stop", "stopall", "stop all", "quit", "end", "revoke", "opt out", "optout", "cancel", "unsubscribe"],
        "es": ["parar", "para", "pare", "alto", "basta", "detener", "cancelar", "baja", "dar de baja",
               "darme de baja", "fin", "terminar", "salir", "revocar", "no más"],
    },
    OPT_IN: {
        "en": ["start", "unstop", "yes"],
        "es": ["sí", "comenzar", "empezar", "iniciar", "reanudar", "alta", "dar de alta", "darme de alta"],
    },
    HELP: {
        "en": ["help", "info"],
        "es": ["ayuda", "información"],
    },
}

# Words around a keyword that do not change what it asks: "stop texting me please",
# "parar los mensajes por favor".
SURROUNDING_WORDS = frozenset([
    "please", "pls", "plz", "thanks", "thank", "you", "thx", "now", "ok", "okay", "me", "my", "all", "again",
    "text", "texts", "texting", "message", "messages", "messaging", "sms", "reminder", "reminders", "sending",
    "por", "favor", "porfa", "gracias", "ya", "ahora", "mis", "los", "las", "estos", "estas", "todo", "todos",
    "de", "nuevo", "otra", "vez", "mensaje", "mensajes", "texto", "textos", "recordatorio", "recordatorios",
    "quiero",
])
# fmt: on


def _core(text: str) -> str:
    return " ".join(word for word in replies.words(text) if word not in SURROUNDING_WORDS)


PHRASES = {
    _core(phrase): (action, language)
    for action, by_language in KEYWORDS.items()
    for language, phrases in by_language.items()
    for phrase in phrases
}


def classify(body: str) -> tuple[str | None, str]:
    """What an inbound text asks for (opt-out, opt-in, help or None) and the language of its keyword."""
    return PHRASES.get(_core(body), (None, "en"))


# --- Signature, limits, replies ------------------------------------------


def _signed(request: HttpRequest) -> bool:
    token = settings.TWILIO_AUTH_TOKEN
    given = request.headers.get("X-Twilio-Signature", "")
    if not token or not given:
        return False
    return RequestValidator(token).validate(settings.SITE_URL + request.get_full_path(), request.POST, given)


def _malformed(params: QueryDict) -> bool:
    for key, values in params.lists():
        limit = FIELD_LIMITS.get(key, 1600)
        if "\x00" in key or any("\x00" in value or len(value) > limit for value in values):
            return True
    return False


def twilio_webhook(name: str) -> Callable[[View], View]:
    """Signature first: only unsigned or wrongly signed requests count against the address's budget."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest) -> HttpResponse:
            if not _signed(request):
                logger.warning("webhook signature rejected", extra={"hook": name})
                limited = throttled(name, request, per_minute=UNSIGNED_PER_MINUTE)
                return limited if limited is not None else HttpResponseForbidden("bad signature")
            if _malformed(request.POST):
                logger.warning("signed webhook with malformed values", extra={"hook": name})
                return HttpResponseBadRequest("malformed values")
            return view(request)

        return csrf_exempt(require_POST(wrapped))

    return decorator


def _first_time(key: str) -> bool:
    try:
        with transaction.atomic():
            WebhookEvent.objects.create(provider=PROVIDER, key=key[:128])
    except IntegrityError:
        return False
    return True


def _twiml(text: str = "") -> HttpResponse:
    reply = MessagingResponse()
    if text:
        reply.message(text)
    return HttpResponse(reply.to_xml(), content_type="text/xml")


# --- Delivery status ------------------------------------------------------


def _advance(reminder: Reminder, provider_status: str, error_code: str, at: dt.datetime) -> bool:
    """Move the (locked) reminder forward to what the provider reports; never back."""
    new = STATUS_MAP[provider_status]
    if RANK.get(reminder.status, 3) >= RANK[new]:
        return False
    reminder.status = new
    if new == Status.DELIVERED:
        reminder.delivered_at = at
    if new == Status.FAILED:
        reminder.last_error = f"The phone company could not deliver it ({error_code or '?'})."[:300]
    reminder.save(update_fields=["status", "delivered_at", "last_error", "updated_at"])
    return True


def _apply_waiting(**lookup: object) -> str | None:
    with transaction.atomic():
        reminder = Reminder.objects.select_for_update().filter(**lookup).exclude(provider_message_id="").first()
        if reminder is None:
            return None
        waiting = list(
            EarlyStatus.objects.select_for_update().filter(
                provider=PROVIDER, message_id=reminder.provider_message_id, applied_at__isnull=True
            )
        )
        for early in waiting:
            _advance(reminder, early.status, early.error_code, early.received_at)
        if waiting:
            EarlyStatus.objects.filter(pk__in=[early.pk for early in waiting]).update(applied_at=timezone.now())
            logger.info("early delivery status applied", extra={"reminder_id": reminder.pk, "count": len(waiting)})
        return reminder.status


def apply_early_status(reminder: Reminder) -> str | None:
    """Apply delivery statuses that arrived before this reminder's provider message id was stored.

    Call it right after storing `provider_message_id` (and the move to sent).
    Only the reminder's pk is used; the row is read again under a lock.
    Inside a transaction it runs now and once more after the commit, so a
    callback that lands while that transaction is open is not missed.
    Returns the reminder's status afterwards (None if it has no message id).
    """
    status = _apply_waiting(pk=reminder.pk)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(partial(_apply_waiting, pk=reminder.pk))
    return status


@twilio_webhook("twilio-status")
def twilio_status(request: HttpRequest) -> HttpResponse:
    sid = request.POST.get("MessageSid", "")
    provider_status = request.POST.get("MessageStatus", "").lower()
    error_code = request.POST.get("ErrorCode", "")
    if not sid or provider_status not in STATUS_MAP or not _first_time(f"status:{sid}:{provider_status}"):
        return HttpResponse(status=204)
    with transaction.atomic():
        reminder = Reminder.objects.select_for_update().filter(provider_message_id=sid).first()
        if reminder is not None:
            _advance(reminder, provider_status, error_code, timezone.now())
            return HttpResponse(status=204)
        # The provider can call back before the send has stored the id: keep the status for then.
        EarlyStatus.objects.create(provider=PROVIDER, message_id=sid, status=provider_status, error_code=error_code)
    # The send may have stored the id while we looked; ours is committed now, so one of us sees the other.
    _apply_waiting(provider_message_id=sid)
    return HttpResponse(status=204)


# --- Inbound texts --------------------------------------------------------


@twilio_webhook("twilio-inbound")
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    """Every text is kept; opt-out words mean stop before anything else; HELP answers; the rest is a reply."""
    sid = request.POST.get("MessageSid", "") or request.POST.get("SmsSid", "")
    if sid and not _first_time(f"inbound:{sid}"):
        return _twiml()
    body = request.POST.get("Body", "")
    number = request.POST.get("From", "")
    action, keyword_language = classify(body)
    guardians = list(Guardian.objects.filter(mobile_number=number).select_related("user")) if number else []
    language = guardians[0].user.language if guardians else keyword_language
    now = timezone.now()
    keep = partial(replies.record, number=number, body=body, sid=sid, guardians=guardians, now=now)
    with translation.override(language):
        if action == OPT_OUT:
            keep(meaning=Reply.OPT_OUT)
            if not guardians:
                return _twiml()
            _set_opt_out(guardians, opted_out=True)
            return _twiml(_("You will get no more texts from Marrow Ready. To get them again, reply START."))
        if action == HELP:
            keep(meaning=Reply.HELP)
            return _twiml(_help_text(guardians))
        stopped = any(guardian.sms_opted_out_at for guardian in guardians)
        if action == OPT_IN and (stopped or not guardians or replies.meaning_of(body) == Reply.MESSAGE):
            # "YES" from a number that stopped texts turns them back on, as the phone company reads it.
            keep(meaning=Reply.OPT_IN)
            if not guardians:
                return _twiml()
            _set_opt_out(guardians, opted_out=False)
            return _twiml(_("You will get texts from Marrow Ready again. To stop them, reply STOP."))
        if not guardians:
            keep(meaning=Reply.MESSAGE)  # a number no guardian has: kept for the nurses, not answered
            return _twiml()
        outcome = replies.answer(number=number, body=body, sid=sid, guardians=guardians, now=now)
        logger.info("inbound reply", extra={"inbound_id": outcome.inbound.pk, "meaning": outcome.inbound.meaning})
        return _twiml(outcome.acknowledgement)


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
    if location is None:
        return _("Marrow Ready appointment reminders. Reply STOP to stop texts.")
    return _("Marrow Ready reminders from %(clinic)s. Call %(phone)s. Reply STOP to stop texts.") % {
        "clinic": location.name,
        "phone": phone_display(location.phone),
    }
