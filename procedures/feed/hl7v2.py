"""HL7 v2 SIU messages: reading the header, the booking they carry, and the acknowledgement we answer.

Library: `hl7` (python-hl7), not `hl7apy`: it parses leniently what real engines send and
ships the asyncio MLLP server and the `mllp_send` client; we check the fields we use ourselves.
"""

from __future__ import annotations

import datetime as dt
import secrets
import zoneinfo
from dataclasses import dataclass

import hl7
from django.utils import timezone

from .booking import Action, Booking, ChildData, GuardianData, NotApplied, NotTaken

TRIGGERS: dict[str, Action] = {
    "S12": Action.BOOK,
    "S13": Action.UPDATE,
    "S14": Action.UPDATE,
    "S15": Action.CANCEL,
    "S17": Action.CANCEL,
    "S26": Action.NO_SHOW,
}
# MSH-18 names we decode; with none given, UTF-8 (which ASCII is part of).
CHARSETS = {"": "utf-8", "ASCII": "ascii", "UNICODE UTF-8": "utf-8", "UTF-8": "utf-8", "8859/1": "latin-1"}


@dataclass(frozen=True)
class Header:
    """MSH, read from the raw bytes before anything else, so even a rejection can be acknowledged."""

    application: str = ""
    facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    message_time: str = ""
    message_type: str = ""
    trigger: str = ""
    control_id: str = ""
    processing_id: str = "P"
    version: str = "2.5.1"
    charset: str = ""

    @property
    def type_name(self) -> str:
        return f"{self.message_type}^{self.trigger}" if self.trigger else self.message_type


def read_header(raw: bytes) -> Header:
    data = raw.lstrip(b"\r\n\t ")
    if not data.startswith(b"MSH") or len(data) < 8:
        raise NotTaken("Not an HL7 v2 message: it must begin with an MSH segment.")
    line = data.replace(b"\n", b"\r").split(b"\r", 1)[0].decode("latin-1")
    sep, encoding = line[3], line[4:8]
    parts = line.split(sep)
    component = encoding[0] if encoding else "^"

    def at(number: int, comp: int = 1) -> str:
        # parts[0] is "MSH" and MSH-1 is the separator itself, so MSH-n is parts[n - 1].
        value = parts[number - 1] if number - 1 < len(parts) else ""
        pieces = value.split(component)
        return pieces[comp - 1].strip() if comp - 1 < len(pieces) else ""

    return Header(
        application=at(3),
        facility=at(4),
        receiving_application=at(5),
        receiving_facility=at(6),
        message_time=at(7),
        message_type=at(9, 1),
        trigger=at(9, 2),
        control_id=at(10),
        processing_id=at(11) or "P",
        version=at(12) or "2.5.1",
        charset=at(18).upper(),
    )


def decode(raw: bytes, header: Header) -> str:
    codec = CHARSETS.get(header.charset)
    if codec is None:
        raise NotTaken(f"Character set “{header.charset}” (MSH-18) is not supported. Send UTF-8 or 8859/1.")
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError as exc:
        declared = header.charset or "none (so UTF-8)"
        raise NotTaken(
            f"Byte {exc.start} is not valid {codec.upper()} (MSH-18 declares {declared}). "
            "Declare the character set in MSH-18, for example 8859/1."
        ) from None
    # Engines end segments with \r (the standard), \n or \r\n.
    return text.replace("\r\n", "\r").replace("\n", "\r").strip()


def parse_time(value: str, tz: zoneinfo.ZoneInfo, *, what: str) -> dt.datetime:
    """An HL7 TS/DTM value; without an offset it is the sending system's local time."""
    try:
        parsed = hl7.parse_datetime(value.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise NotApplied(f"{what}: “{value}” is not an HL7 date and time (YYYYMMDDHHMM[SS][+/-ZZZZ]).")
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=tz)
    return parsed.astimezone(dt.UTC)


def _get(segment: hl7.Segment | None, field: int, rep: int = 1, comp: int = 1, sub: int = 1) -> str:
    if segment is None:
        return ""
    try:
        return str(segment.extract_field(1, field, rep, comp, sub)).strip()
    except (IndexError, KeyError):
        return ""


def _repeats(segment: hl7.Segment | None, field: int) -> int:
    if segment is None or field >= len(segment):
        return 0
    value = segment(field)
    return len(value) if isinstance(value, hl7.Field) else 1


def _first(message: hl7.Message, name: str) -> hl7.Segment | None:
    try:
        return message.segment(name)
    except KeyError:
        return None


def _all(message: hl7.Message, name: str) -> list[hl7.Segment]:
    try:
        return list(message.segments(name))
    except KeyError:
        return []


def _mrn(pid: hl7.Segment) -> str:
    """PID-3 repeats (MRN, national id, ...): the one typed MR, else the first."""
    count = max(_repeats(pid, 3), 1)
    for rep in range(1, count + 1):
        if _get(pid, 3, rep, 5).upper() == "MR":
            return _get(pid, 3, rep, 1)
    return _get(pid, 3, 1, 1)


def _language(code: str) -> str:
    code = code.strip().lower()
    if code.startswith(("es", "spa")):
        return "es"
    if code.startswith(("en", "eng")):
        return "en"
    return ""


def _child(pid: hl7.Segment | None) -> ChildData | None:
    if pid is None:
        return None
    born = None
    if dob := _get(pid, 7)[:8]:
        try:
            born = dt.date(int(dob[0:4]), int(dob[4:6]), int(dob[6:8]))
        except ValueError:
            raise NotApplied(f"PID-7 date of birth “{_get(pid, 7)}” is not a date (YYYYMMDD).") from None
    return ChildData(
        mrn=_mrn(pid),
        last_name=_get(pid, 5, 1, 1),
        first_name=_get(pid, 5, 1, 2),
        date_of_birth=born,
        language=_language(_get(pid, 15, 1, 1) or _get(pid, 15, 1, 2)),
    )


@dataclass
class _Telecoms:
    emails: list[str]
    mobiles: list[str]
    phones: list[str]


def _telecoms(segment: hl7.Segment | None, field: int) -> _Telecoms:
    """An XTN field's repeats (PID-13, PID-14, PID-40, NK1-5): emails, mobiles, other phones.

    An email is one with use code NET (Table 0201) or equipment Internet / X.400 (Table 0202),
    in XTN-4; older engines put it, or the phone number, in XTN-1.
    """
    found = _Telecoms([], [], [])
    for rep in range(1, _repeats(segment, field) + 1):
        use, equipment = _get(segment, field, rep, 2).upper(), _get(segment, field, rep, 3).upper()
        address = _get(segment, field, rep, 4) or _get(segment, field, rep, 1)
        if use == "NET" or equipment in ("INTERNET", "X.400") or "@" in address:
            if "@" in address:
                found.emails.append(address)
            continue
        number = _number(segment, field, rep)
        if not number:
            continue
        (found.mobiles if equipment == "CP" or use == "PRS" else found.phones).append(number)
    return found


def _number(segment: hl7.Segment | None, field: int, rep: int) -> str:
    # XTN: unformatted (12), or country (5) + area (6) + local (7), or the old free text (1).
    if unformatted := _get(segment, field, rep, 12):
        return unformatted
    area, local = _get(segment, field, rep, 6), _get(segment, field, rep, 7)
    if area and local:
        return f"+{_get(segment, field, rep, 5) or '1'}{area}{local}"
    return _get(segment, field, rep, 1)


def _guardian(nk1: hl7.Segment) -> GuardianData:
    telecoms = _telecoms(nk1, 5)
    given, family = _get(nk1, 2, 1, 2), _get(nk1, 2, 1, 1)
    return GuardianData(
        full_name=" ".join(part for part in (given, family) if part),
        relationship=_get(nk1, 3, 1, 2) or _get(nk1, 3, 1, 1),
        mobile=telecoms.mobiles[0] if telecoms.mobiles else "",
        email=telecoms.emails[0] if telecoms.emails else "",
    )


def _guardians(message: hl7.Message, pid: hl7.Segment | None, child: ChildData | None) -> list[GuardianData]:
    """NK1 contacts, then the family's own contacts from PID-13/PID-14/PID-40 (a child's are its family's).

    SIU^S12 has no NK1 in many engines' structures: the email then comes in PID-13. When the
    message names exactly one NK1 without an email, the PID email is taken as that person's.
    """
    guardians = [_guardian(nk1) for nk1 in _all(message, "NK1")]
    emails: list[str] = []
    mobiles: list[str] = []
    for field in (13, 40, 14):
        telecoms = _telecoms(pid, field)
        emails += telecoms.emails
        mobiles += telecoms.mobiles
    known = {guardian.email.lower() for guardian in guardians if guardian.email}
    emails = list(dict.fromkeys(email for email in emails if email.lower() not in known))
    if not emails:
        return guardians
    without = [number for number, guardian in enumerate(guardians) if not guardian.email]
    if len(guardians) == 1 and without:
        only = guardians[0]
        guardians[0] = GuardianData(
            full_name=only.full_name,
            relationship=only.relationship,
            mobile=only.mobile or (mobiles[0] if mobiles else ""),
            email=emails.pop(0),
        )
    name = f"{child.first_name} {child.last_name}".strip() if child else ""
    for email in emails:
        guardians.append(
            GuardianData(
                full_name=f"Family of {name}" if name else email.split("@")[0],
                mobile=mobiles[0] if mobiles else "",
                email=email,
            )
        )
    return guardians


# SCH-25 filler status (HL7 Table 0278, and "Arrived", which engines add) for S12-S14.
# A status says more than the trigger: an S14 whose SCH-25 is Cancelled cancels.
FILLER_STATUS: dict[str, Action] = {
    "CANCELLED": Action.CANCEL,
    "CANCELED": Action.CANCEL,
    "DELETED": Action.CANCEL,
    "DC": Action.CANCEL,
    "DISCONTINUED": Action.CANCEL,
    "NOSHOW": Action.NO_SHOW,
    "NO SHOW": Action.NO_SHOW,
    "NO-SHOW": Action.NO_SHOW,
    "COMPLETE": Action.COMPLETE,
    "COMPLETED": Action.COMPLETE,
}


def _action(header: Header, status: str) -> Action:
    action = TRIGGERS[header.trigger]
    if action in (Action.BOOK, Action.UPDATE):
        return FILLER_STATUS.get(status.upper(), action)
    return action


# Where the start may be: AIS-4 (v2.4+), AIL-6, AIG-8, AIP-6, TQ1-7 (v2.6+), SCH-11.4 (the older TQ).
START_FIELDS = (("AIS", 4, 1), ("AIL", 6, 1), ("AIG", 8, 1), ("AIP", 6, 1), ("TQ1", 7, 1), ("SCH", 11, 4))


def _field_spec(spec: str) -> tuple[str, int, int]:
    name, _, rest = spec.partition("-")
    field, _, comp = rest.partition(".")
    return name, int(field), int(comp or 1)


def _start(message: hl7.Message, tz: zoneinfo.ZoneInfo, *, skip: str = "") -> dt.datetime | None:
    for name, field, comp in START_FIELDS:
        if skip and (name, field, comp) == _field_spec(skip):
            continue
        if value := _get(_first(message, name), field, 1, comp):
            return parse_time(value, tz, what=f"{name}-{field} start")
    return None


def _arrival(message: hl7.Message, tz: zoneinfo.ZoneInfo, spec: str) -> dt.datetime | None:
    if not spec:
        return None
    name, field, comp = _field_spec(spec)
    value = _get(_first(message, name), field, 1, comp)
    return parse_time(value, tz, what=f"{spec} arrival") if value else None


def _services(message: hl7.Message, sch: hl7.Segment) -> tuple[tuple[str, str], ...]:
    """The codes the message names the service by: each AIS-3, then SCH-8 (type) and SCH-7 (reason)."""
    found = [("AIS-3", _get(ais, 3, 1, 1) or _get(ais, 3, 1, 2)) for ais in _all(message, "AIS")]
    found += [("SCH-8", _get(sch, 8, 1, 1) or _get(sch, 8, 1, 2)), ("SCH-7", _get(sch, 7, 1, 1) or _get(sch, 7, 1, 2))]
    return tuple((where, code) for where, code in found if code)


def booking_of(text: str, header: Header, tz: zoneinfo.ZoneInfo, *, arrival_field: str = "") -> Booking:
    """The booking a decoded SIU message carries; NotTaken / NotApplied when it cannot be read."""
    if header.message_type != "SIU" or header.trigger not in TRIGGERS:
        raise NotTaken(f"{header.type_name or 'This message type'} is not taken here: send SIU S12-S15, S17 or S26.")
    if not header.control_id:
        raise NotTaken("MSH-10 (message control id) is empty.")
    try:
        message = hl7.parse(text)
    except Exception as exc:  # the library raises several kinds on malformed text
        raise NotTaken(f"The message could not be read as HL7: {exc}") from None
    if not header.message_time:
        raise NotApplied("MSH-7 (message time) is empty: it is needed to apply messages in order.")
    sch = _first(message, "SCH")
    if sch is None:
        raise NotApplied("The SCH segment is missing.")
    filler, placer = _get(sch, 2, 1, 1), _get(sch, 1, 1, 1)
    if not filler and not placer:
        raise NotApplied("SCH-1 (placer appointment id) and SCH-2 (filler appointment id) are both empty.")
    status = _get(sch, 25, 1, 1) or _get(sch, 25, 1, 2)
    action = _action(header, status)
    pid = _first(message, "PID")
    if pid is None and action in (Action.BOOK, Action.UPDATE):
        raise NotApplied("The PID segment (the patient) is missing.")
    child = _child(pid)
    if child is not None and not child.mrn:
        raise NotApplied("PID-3 has no medical record number.")
    services = _services(message, sch)
    booking = action in (Action.BOOK, Action.UPDATE)
    return Booking(
        action=action,
        filler_id=filler,
        placer_id=placer,
        message_at=parse_time(header.message_time, tz, what="MSH-7 message time"),
        start=_start(message, tz, skip=arrival_field) if booking else None,
        arrival=_arrival(message, tz, arrival_field) if booking else None,
        location_code=_get(_first(message, "AIL"), 3, 1, 1),
        service_code=services[0][1] if services else "",
        service_candidates=services,
        child=child,
        guardians=_guardians(message, pid, child),
        note=_get(sch, 6, 1, 2) or _get(sch, 6, 1, 1),
        filler_status=status,
    )


# --- Acknowledgements ---------------------------------------------------------------------


def _escape(text: str) -> str:
    """HL7 escape sequences for our own |^~\\& in free text; one line only."""
    out = text.replace("\\", "\\E\\").replace("|", "\\F\\").replace("^", "\\S\\")
    out = out.replace("~", "\\R\\").replace("&", "\\T\\")
    return " ".join(out.split())


def ack(header: Header, code: str, reason: str = "") -> bytes:
    """ACK for `header`: AA, AE (with the reason in MSA-3 and ERR-8) or AR."""
    now = timezone.now().strftime("%Y%m%d%H%M%S+0000")
    msh = "|".join(
        [
            "MSH",
            "^~\\&",
            _escape(header.receiving_application) or "MARROW-READY",
            _escape(header.receiving_facility),
            _escape(header.application),
            _escape(header.facility),
            now,
            "",
            f"ACK^{_escape(header.trigger)}^ACK",
            secrets.token_hex(8).upper(),
            _escape(header.processing_id)[:3] or "P",
            _escape(header.version)[:8] or "2.5.1",
        ]
    )
    segments = [msh, f"MSA|{code}|{_escape(header.control_id)}|{_escape(reason)[:80]}"]
    if code != "AA":
        error = "207^Application internal error^HL70357" if code == "AE" else "200^Unsupported message type^HL70357"
        segments.append(f"ERR|||{error}|E||||{_escape(reason)}")
    return ("\r".join(segments) + "\r").encode()
