"""Taking in a message: store it as it came, apply it in its own transaction, say what happened.

The raw bytes are saved (and committed) before anything is read from them, so a
message that cannot be parsed, mapped or applied is still there to read and to try again.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, models
from django.db.models import Q
from django.utils import timezone, translation

from portal.models import AuditAction, AuditEvent, Role

from . import hl7v2
from .apply import Outcome, apply_booking
from .apply import apply_patient_event as apply_event
from .booking import Booking, Err, NotApplied, NotTaken, PatientEvent
from .models import InboundMessage, MessageStatus, Protocol, SendingSystem

logger = logging.getLogger(__name__)

ACK_CODES = {
    MessageStatus.APPLIED: "AA",
    MessageStatus.UNCHANGED: "AA",
    MessageStatus.FAILED: "AE",
    MessageStatus.REJECTED: "AR",
}


def max_message_bytes() -> int:
    return getattr(settings, "FEED_MAX_MESSAGE_BYTES", 1024 * 1024)


def hl7_system(header: hl7v2.Header) -> SendingSystem | None:
    """MSH-3/MSH-4 name the sender; a system registered without a facility matches any."""
    candidates = SendingSystem.objects.select_related("actor").filter(
        Q(hl7_facility=header.facility) | Q(hl7_facility=""), hl7_application=header.application, is_active=True
    )
    return min(candidates, key=lambda system: system.hl7_facility == "", default=None)


def receive_hl7(raw: bytes, *, peer: str = "") -> bytes:
    """Store, apply and acknowledge one MLLP block. Raises only if the raw store itself fails."""
    message = InboundMessage.objects.create(protocol=Protocol.HL7, raw=raw, peer=peer[:64])
    try:
        header = hl7v2.read_header(raw)
    except NotTaken as exc:
        _finish(message, Outcome(MessageStatus.REJECTED, exc.reason, error=exc.code))
        return hl7v2.ack(hl7v2.Header(), "AR", exc.reason, exc.code)
    outcome = process_hl7(message, header)
    # Notes go back too: an AA may say that no one could be invited.
    text = " ".join([outcome.reason, *outcome.notes]).strip()
    return hl7v2.ack(header, ACK_CODES[outcome.status], text, outcome.error)


def process_hl7(message: InboundMessage, header: hl7v2.Header | None = None) -> Outcome:
    """Apply a stored HL7 message (again, when a nurse asks to try again)."""
    raw = bytes(message.raw)
    try:
        header = header or hl7v2.read_header(raw)
    except NotTaken as exc:
        return _finish(message, Outcome(MessageStatus.REJECTED, exc.reason, error=exc.code))
    message.control_id = header.control_id[:199]
    message.message_type = header.type_name[:20]
    if len(raw) > max_message_bytes():
        reason = f"The message is {len(raw):,} bytes; the limit is {max_message_bytes():,}."
        return _finish(message, Outcome(MessageStatus.REJECTED, reason, error=Err.DATA_TYPE))
    system = hl7_system(header)
    if system is None:
        reason = (
            f"Sending application “{header.application}” at facility “{header.facility}” (MSH-3/MSH-4) "
            "is not registered here."
        )
        return _finish(message, Outcome(MessageStatus.REJECTED, reason, error=Err.TABLE))
    message.system = system
    if not system.allows_address(message.peer):
        return _finish(message, _refuse_address(message, system))
    if not system.takes_processing_id(header.processing_id):
        reason = (
            f"MSH-11 processing id “{header.processing_id}” was sent to {system}, which is set up as "
            f"{system.get_processing_mode_display()}: a test message is never applied to live data, nor the reverse."
        )
        return _finish(message, Outcome(MessageStatus.REJECTED, reason, error=Err.PROCESSING_ID))

    if header.message_type == "ADT":
        # The same listener takes ADT: a child's details changed, or two records merged.
        def read_event() -> PatientEvent:
            return hl7v2.patient_event_of(hl7v2.decode(raw, header), header, system.tz)

        return apply_stored(message, system, read_event, apply=apply_patient_event)

    def read() -> Booking:
        return hl7v2.booking_of(
            hl7v2.decode(raw, header),
            header,
            system.tz,
            arrival_field=system.arrival_field,
            status_codes=system.status_codes,
            system_name=system.name,
        )

    return apply_stored(message, system, read)


def _refuse_address(message: InboundMessage, system: SendingSystem) -> Outcome:
    """A message naming `system` from an address not on its list: refused, logged and audited."""
    where = message.peer or "an unknown address"
    logger.warning(
        "hl7 sender address not allowed", extra={"system_id": system.pk, "peer": message.peer, "message_id": message.pk}
    )
    try:
        ip = str(ipaddress.ip_address(message.peer.partition("%")[0])) if message.peer else None
    except ValueError:
        ip = None
    AuditEvent.objects.create(
        user_id=system.actor_id,
        role=Role.SYSTEM,
        action=AuditAction.DENIED,
        route=f"feed:{message.protocol}",
        method=(message.message_type.split("^")[-1] or message.protocol)[:8],
        object_type="inbound message",
        object_id=message.pk,
        ip_address=ip,
    )
    reason = (
        f"Messages from {system} are taken only from the addresses set for it; this one came from {where}. "
        "Nothing was applied: send it from an allowed address, or ask an administrator to add this one."
    )
    return Outcome(MessageStatus.REJECTED, reason, error=Err.OTHER)


def apply_stored(
    message: InboundMessage, system: SendingSystem, read: Callable[[], Any], apply: Callable[..., Outcome] | None = None
) -> Outcome:
    # Reasons go back to the sender and into the stored row: in the site's language, whoever asks.
    with translation.override(settings.LANGUAGE_CODE):
        return _apply_stored(message, system, read, apply or _apply_once_more_on_a_clash)


def _apply_stored(
    message: InboundMessage, system: SendingSystem, read: Callable[[], Any], apply: Callable[..., Outcome]
) -> Outcome:
    try:
        booking = read()
        if booking.child is not None:
            message.mrn = booking.child.mrn[:64]
            message.child_name = f"{booking.child.first_name} {booking.child.last_name}".strip()[:170]
        message.message_at = booking.message_at
        message.filler_id = booking.appointment_id[:120]
        if _is_resend(message):
            outcome = Outcome(MessageStatus.UNCHANGED, "Already applied: this is a resend of the same message.")
        else:
            outcome = apply(system, booking, message)
    except NotTaken as exc:
        outcome = Outcome(MessageStatus.REJECTED, exc.reason, error=exc.code)
    except NotApplied as exc:
        outcome = Outcome(MessageStatus.FAILED, exc.reason, error=exc.code)
    except (IntegrityError, OperationalError):
        # A clash that applying once more did not settle, or a lock that timed out: try again later.
        logger.warning("inbound message clashed", extra={"message_id": message.pk}, exc_info=True)
        outcome = Outcome(
            MessageStatus.FAILED,
            "Another change to the same record was being made; the message is kept to try again.",
            error=Err.LOCKED,
        )
    except Exception:
        # Kept for a nurse to try again; the sender is told it was not applied.
        logger.exception("inbound message failed", extra={"message_id": message.pk})
        outcome = Outcome(
            MessageStatus.FAILED,
            "An unexpected error stopped this message; it is kept to try again.",
            error=Err.INTERNAL,
        )
    _finish(message, outcome)
    if outcome.settled and message.filler_id:
        _supersede(message)
    return outcome


def apply_patient_event(system: SendingSystem, event: PatientEvent, message: InboundMessage) -> Outcome:
    try:
        return apply_event(system=system, event=event, message=message)
    except IntegrityError:
        return apply_event(system=system, event=event, message=message)


def _apply_once_more_on_a_clash(system: SendingSystem, booking: Booking, message: InboundMessage) -> Outcome:
    # Another listener process may create the same child or appointment row at the same
    # moment; its transaction has committed by the time ours fails, so a second go finds it.
    try:
        return apply_booking(system=system, booking=booking, message=message)
    except IntegrityError:
        return apply_booking(system=system, booking=booking, message=message)


def _is_resend(message: InboundMessage) -> bool:
    if not message.control_id:
        return False
    return (
        InboundMessage.objects.filter(
            system=message.system,
            protocol=message.protocol,
            control_id=message.control_id,
            message_at=message.message_at,
            status__in=(MessageStatus.APPLIED, MessageStatus.UNCHANGED),
        )
        .exclude(pk=message.pk)
        .exists()
    )


def _supersede(message: InboundMessage) -> None:
    """Failed messages for this appointment that this newer one replaces leave the work queue."""
    InboundMessage.objects.filter(
        system=message.system,
        filler_id=message.filler_id,
        status=MessageStatus.FAILED,
        message_at__lte=message.message_at,
    ).exclude(pk=message.pk).update(
        status=MessageStatus.UNCHANGED,
        reason=f"Replaced by a later message for this appointment (#{message.pk}).",
        handled_at=timezone.now(),
    )


def _fold_resend(message: InboundMessage, outcome: Outcome) -> bool:
    """A failing message sent again (same control id, same bytes) adds to the row already waiting."""
    if (
        message.attempts
        or not message.control_id
        or outcome.status not in (MessageStatus.FAILED, MessageStatus.REJECTED)
    ):
        return False
    waiting = (
        InboundMessage.objects.filter(
            protocol=message.protocol,
            system=message.system,
            control_id=message.control_id,
            status=outcome.status,
            raw=bytes(message.raw),
        )
        .exclude(pk=message.pk)
        .order_by("pk")
        .first()
    )
    if waiting is None:
        return False
    InboundMessage.objects.filter(pk=waiting.pk).update(
        resends=models.F("resends") + 1,
        attempts=models.F("attempts") + 1,
        reason=" ".join([outcome.reason, *outcome.notes]).strip(),
        handled_at=timezone.now(),
    )
    message.delete()
    message.pk = waiting.pk
    return True


def _finish(message: InboundMessage, outcome: Outcome) -> Outcome:
    if message.pk is not None and _fold_resend(message, outcome):
        logger.info("inbound message folded into an earlier one", extra={"message_id": message.pk})
        return outcome
    message.status = outcome.status
    message.reason = " ".join([outcome.reason, *outcome.notes]).strip()
    if outcome.procedure is not None:
        message.procedure = outcome.procedure
    message.attempts += 1
    message.handled_at = timezone.now()
    if message.pk is None:
        message.save()
    else:  # the raw bytes were stored on arrival and never change
        message.save(
            update_fields=[f.name for f in InboundMessage._meta.concrete_fields if f.name not in ("id", "raw")]
        )
    logger.info(
        "inbound message handled",
        extra={"message_id": message.pk, "status": message.status, "system_id": message.system_id},
    )
    return outcome


def try_again(message: InboundMessage) -> Outcome:
    """A nurse's "try again" after the mapping was fixed: the same path as on arrival."""
    if message.protocol == Protocol.FHIR:
        from .fhir import process_fhir

        return process_fhir(message)
    return process_hl7(message)
