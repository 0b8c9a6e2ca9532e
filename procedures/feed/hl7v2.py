"""HL7 v2 SIU messages: reading the header, the booking they carry, and the acknowledgement we answer.

Library: `hl7` (python-hl7), not `hl7apy`: it parses leniently what real engines send and
ships the asyncio MLLP server and the `mllp_send` client; we check the fields we use ourselves.
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
import secrets
import zoneinfo
from dataclasses import dataclass

import hl7
from django.utils import timezone

from .booking import Action, Booking, ChildData, Err, GuardianData, NotApplied, NotTaken, PatientEvent

TRIGGERS: dict[str, Action] = {
    "S12": Action.BOOK,
    "S13": Action.UPDATE,
    "S14": Action.UPDATE,
    "S15": Action.CANCEL,
    "S17": Action.CANCEL,
    "S26": Action.NO_SHOW,
}
# MSH-18 (HL7 Table 0211, both its "8859/n" and its "ISO IRnnn" names) and the Python codec.
# With none given, UTF-8 (which ASCII is part of). "UNICODE" alone (v2.3-v2.5) is read as UTF-8
# unless the bytes are UTF-16 (a byte order mark, or every other byte zero): see `_wire`.
CHARSETS = {
    "": "utf-8",
    "ASCII": "ascii",
    "ISO IR6": "ascii",
    "8859/1": "latin-1",
    "ISO IR100": "latin-1",
    "8859/2": "iso8859-2",
    "ISO IR101": "iso8859-2",
    "8859/3": "iso8859-3",
    "ISO IR109": "iso8859-3",
    "8859/4": "iso8859-4",
    "ISO IR110": "iso8859-4",
    "8859/5": "iso8859-5",
    "ISO IR144": "iso8859-5",
    "8859/6": "iso8859-6",
    "ISO IR127": "iso8859-6",
    "8859/7": "iso8859-7",
    "ISO IR126": "iso8859-7",
    "8859/8": "iso8859-8",
    "ISO IR138": "iso8859-8",
    "8859/9": "iso8859-9",
    "ISO IR148": "iso8859-9",
    "8859/15": "iso8859-15",
    "UNICODE": "utf-8",
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",
    "ISO IR192": "utf-8",
    "UNICODE UTF-16": "utf-16",
    "UNICODE UTF-32": "utf-32",
    "GB 18030-2000": "gb18030",
    "BIG-5": "big5",
    "KS X 1001": "euc_kr",
    "ISO IR87": "iso2022_jp",
}
BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


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
    # The encoding on the wire when the bytes themselves say (a byte order mark, UTF-16).
    wire: str = ""

    @property
    def type_name(self) -> str:
        return f"{self.message_type}^{self.trigger}" if self.trigger else self.message_type


def _wire(raw: bytes) -> tuple[str, bytes]:
    """(encoding the bytes declare themselves, the message as ASCII-compatible bytes).

    A byte order mark, or UTF-16 without one (every other byte zero), decides before MSH-18:
    MSH-18 cannot be read until the bytes are. UTF-16 is turned into UTF-8 here.
    """
    for bom, codec in BOMS:
        if raw.startswith(bom):
            body = raw[len(bom) :]
            return codec, body if codec == "utf-8" else _utf8(body, codec)
    if len(raw) >= 4 and raw[1] == 0 and raw[3] == 0 and raw[0] != 0:
        return "utf-16-le", _utf8(raw, "utf-16-le")
    if len(raw) >= 4 and raw[0] == 0 and raw[2] == 0 and raw[1] != 0:
        return "utf-16-be", _utf8(raw, "utf-16-be")
    return "", raw


def _utf8(raw: bytes, codec: str) -> bytes:
    try:
        return raw.decode(codec).encode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotTaken(f"Byte {exc.start} is not valid {codec.upper()}.", Err.TABLE) from None


def split_messages(raw: bytes) -> list[bytes]:
    """The messages of one MLLP block: each begins with its MSH segment (two in one frame happen).

    Each part keeps the bytes it came in; UTF-16 blocks are split after decoding and each
    part encoded back, so what is stored is what was sent.
    """
    wire, body = _wire(raw)
    starts = [0] + [match.start() + 1 for match in re.finditer(rb"[\r\n]MSH(?=[^A-Za-z0-9\r\n])", body)]
    if len(starts) == 1:
        return [raw]
    pieces = [body[a:b] for a, b in zip(starts, [*starts[1:], len(body)], strict=True)]
    pieces = [piece for piece in pieces if piece.strip()]
    if wire.startswith("utf-16"):
        return [piece.decode("utf-8").encode(wire) for piece in pieces]
    return pieces


def read_header(raw: bytes) -> Header:
    wire, data = _wire(raw)
    data = data.lstrip(b"\r\n\t ")
    if not data.startswith(b"MSH") or len(data) < 8:
        raise NotTaken("Not an HL7 v2 message: it must begin with an MSH segment.", Err.SEGMENT)
    line = data.replace(b"\n", b"\r").split(b"\r", 1)[0].decode("latin-1")
    sep, encoding = line[3], line[4:8]
    parts = line.split(sep)
    component = encoding[0] if encoding else "^"
    repetition = encoding[1] if len(encoding) > 1 else "~"

    def at(number: int, comp: int = 1) -> str:
        # parts[0] is "MSH" and MSH-1 is the separator itself, so MSH-n is parts[n - 1].
        value = parts[number - 1] if number - 1 < len(parts) else ""
        pieces = value.split(repetition)[0].split(component)
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
        charset=" ".join(at(18).upper().split()),
        wire=wire,
    )


def ordering_key(raw: bytes) -> str:
    """Which record a message changes, read without the database: the sender and SCH-2 (else
    SCH-1) for SIU, PID-3 for ADT. The listener applies messages with one key one at a time, in
    the order they arrived; "" when the message cannot be read that far (it is refused anyway)."""
    try:
        header = read_header(raw)
        text = decode(raw, header)
    except NotTaken:
        return ""
    _, _, body = raw.partition(b"MSH")
    sep = chr(body[0]) if body else "|"
    component = chr(body[1]) if len(body) > 1 else "^"
    sender = f"{header.application}{component}{header.facility}"
    wanted = {"SIU": ("SCH", (2, 1)), "ADT": ("PID", (3,))}.get(header.message_type)
    if wanted is None:
        return ""
    name, fields = wanted
    for segment in text.split("\r"):
        if segment.startswith(name + sep):
            parts = segment.split(sep)
            for number in fields:
                value = parts[number].split(component)[0].split("~")[0].strip() if number < len(parts) else ""
                if value:
                    return f"{sender}|{name}-{number}|{value}"
            break
    return ""


def decode(raw: bytes, header: Header) -> str:
    wire, body = _wire(raw)
    codec = "utf-8" if wire else CHARSETS.get(header.charset)
    if codec is None:
        raise NotTaken(f"Character set “{header.charset}” (MSH-18) is not supported. Send UTF-8 or 8859/1.", Err.TABLE)
    if codec in ("utf-16", "utf-32") and not wire:
        codec = "utf-8"  # MSH-18 says UTF-16 but the bytes have no zeros: an engine re-encoded it
    try:
        text = body.decode(codec)
    except UnicodeDecodeError as exc:
        declared = header.charset or "none (so UTF-8)"
        raise NotTaken(
            f"Byte {exc.start} is not valid {codec.upper()} (MSH-18 declares {declared}). "
            "Declare the character set in MSH-18, for example 8859/1.",
            Err.TABLE,
        ) from None
    # Engines end segments with \r (the standard), \n or \r\n, and some leave blank lines between.
    text = text.replace("\r\n", "\r").replace("\n", "\r")
    return "\r".join(segment for segment in text.split("\r") if segment.strip())


def readable(raw: bytes) -> str:
    """The message for a person to read: decoded as declared, undecodable bytes shown as escapes."""
    try:
        header = read_header(raw)
        wire, body = _wire(raw)
        codec = "utf-8" if wire else CHARSETS.get(header.charset, "utf-8")
        codec = "utf-8" if codec in ("utf-16", "utf-32") else codec
    except NotTaken:
        body, codec = raw, "utf-8"
    return body.replace(b"\r\n", b"\r").replace(b"\n", b"\r").decode(codec, errors="backslashreplace")


def ack_codec(header: Header) -> str:
    """The ACK goes back in the sender's encoding."""
    if header.wire:
        return header.wire
    codec = CHARSETS.get(header.charset, "utf-8")
    return "utf-8" if codec in ("utf-16", "utf-32") else codec


def parse_time(value: str, tz: zoneinfo.ZoneInfo, *, what: str) -> dt.datetime:
    """An HL7 TS/DTM value; without an offset it is the sending system's local time."""
    try:
        parsed = hl7.parse_datetime(value.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise NotApplied(f"{what}: “{value}” is not an HL7 date and time (YYYYMMDDHHMM[SS][+/-ZZZZ]).", Err.DATA_TYPE)
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


def _mrn(pid: hl7.Segment, field: int = 3) -> str:
    """PID-3 repeats (MRN, national id, ...): the one typed MR, else the first."""
    count = max(_repeats(pid, field), 1)
    for rep in range(1, count + 1):
        if _get(pid, field, rep, 5).upper() == "MR":
            return _get(pid, field, rep, 1)
    return _get(pid, field, 1, 1)


# Identifier types (Table 0203) that are never a child's record number here.
NOT_AN_MRN = {"SS", "SSN", "DL", "PPN", "NI", "NPI", "HC", "JHN", "AN", "VN"}


def _other_ids(segment: hl7.Segment, field: int, mrn: str) -> list[str]:
    found = []
    for rep in range(1, max(_repeats(segment, field), 1) + 1):
        value, kind = _get(segment, field, rep, 1), _get(segment, field, rep, 5).upper()
        if value and value != mrn and kind not in NOT_AN_MRN:
            found.append(value)
    return found


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
            raise NotApplied(f"PID-7 date of birth “{_get(pid, 7)}” is not a date (YYYYMMDD).", Err.DATA_TYPE) from None
    mrn = _mrn(pid)
    # A prior id may come beside the MRN: PID-2 (v2.3 external id), PID-3 repeats, PID-4 (alternate).
    prior = [*_other_ids(pid, 2, mrn), *_other_ids(pid, 3, mrn), *_other_ids(pid, 4, mrn)]
    return ChildData(
        mrn=mrn,
        prior_mrns=tuple(dict.fromkeys(prior)),
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


# SCH-25 filler status: HL7 Table 0278, and "Arrived" and "Scheduled" (Allscripts), which engines
# add. A status says more
# than the trigger: an S14 whose SCH-25 is Cancelled cancels. None: the trigger's own action.
FILLER_STATUS: dict[str, Action | None] = {
    "PENDING": None,
    "WAITLIST": None,
    "BOOKED": None,
    "OVERBOOK": None,
    "STARTED": None,
    "ARRIVED": None,
    "SCHEDULED": None,
    "BLOCKED": None,  # refused below: a blocked slot, not a child's appointment
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


# Table 0278 as HL7 spells its codes, for the administrator.
FILLER_STATUS_NAMES = (
    "Booked",
    "Pending",
    "Waitlist",
    "Overbook",
    "Started",
    "Arrived",
    "Complete",
    "Cancelled",
    "Deleted",
    "DC",
    "Noshow",
    "Blocked",
)


def filler_status(sch: hl7.Segment, codes: dict[str, str], system_name: str = "") -> str:
    """SCH-25 as a Table 0278 status: the sender's own code mapped first (Epic sends `1^SCH`),
    else the standard reading of its code or text. An unknown code is never read as a booking."""
    code, text = _get(sch, 25, 1, 1), _get(sch, 25, 1, 2)
    mapped = {key.strip().upper(): value for key, value in (codes or {}).items()}
    for value in (code, text):
        if value and value.strip().upper() in mapped:
            return mapped[value.strip().upper()]
    for value in (code, text):
        if value and value.strip().upper() in FILLER_STATUS:
            return value
    if not code and not text:
        return ""
    sent = "^".join(value for value in (code, text) if value)
    sender = f" and has no mapping for {system_name}" if system_name else ""
    raise NotApplied(
        f"SCH-25 filler status “{sent}” is not an HL7 Table 0278 status{sender}; nothing was booked. "
        "An administrator can map it under the sending system's SCH-25 status codes, then try again.",
        Err.TABLE,
    )


def _action(header: Header, status: str) -> Action:
    action = TRIGGERS[header.trigger]
    if action not in (Action.BOOK, Action.UPDATE) or not status:
        return action
    if status.upper() == "BLOCKED":
        raise NotApplied("SCH-25 says Blocked: a blocked time, not an appointment for a child.", Err.TABLE)
    return FILLER_STATUS.get(status.upper()) or action


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


ADT_UPDATES = {"A08", "A31"}
ADT_MERGES = {"A34", "A40", "A47"}


def _parsed(text: str, header: Header) -> hl7.Message:
    """The parsed message, once its control id and time (needed to apply messages in order) are there."""
    if not header.control_id:
        raise NotTaken("MSH-10 (message control id) is empty.", Err.REQUIRED)
    try:
        message = hl7.parse(text)
    except Exception as exc:  # the library raises several kinds on malformed text
        raise NotTaken(f"The message could not be read as HL7: {exc}", Err.SEGMENT) from None
    if not header.message_time:
        raise NotApplied("MSH-7 (message time) is empty: it is needed to apply messages in order.", Err.REQUIRED)
    return message


def patient_event_of(text: str, header: Header, tz: zoneinfo.ZoneInfo) -> PatientEvent:
    """ADT^A08/A31 (details changed) or ADT^A34/A40/A47 (merged: MRG-1 names the prior id)."""
    if header.trigger not in ADT_UPDATES | ADT_MERGES:
        raise NotTaken(f"{header.type_name} is not taken here: send ADT A08, A31, A34, A40 or A47.", Err.EVENT)
    message = _parsed(text, header)
    pid = _first(message, "PID")
    if pid is None:
        raise NotApplied("The PID segment (the patient) is missing.", Err.SEGMENT)
    child = _child(pid)
    if child is None or not child.mrn:
        raise NotApplied("PID-3 has no medical record number.", Err.REQUIRED)
    merge = header.trigger in ADT_MERGES
    if merge:
        mrg = _first(message, "MRG")
        if mrg is None:
            raise NotApplied(f"{header.type_name} needs an MRG segment naming the prior id.", Err.SEGMENT)
        prior = _mrn(mrg, 1)
        if not prior:
            raise NotApplied("MRG-1 (prior patient identifier) is empty.", Err.REQUIRED)
        child = ChildData(
            mrn=child.mrn,
            first_name=child.first_name,
            last_name=child.last_name,
            date_of_birth=child.date_of_birth,
            language=child.language,
            prior_mrns=(prior, *(mrn for mrn in child.prior_mrns if mrn != prior)),
        )
    return PatientEvent(
        merge=merge,
        child=child,
        message_at=parse_time(header.message_time, tz, what="MSH-7 message time"),
        guardians=_guardians(message, pid, child),
    )


def booking_of(
    text: str,
    header: Header,
    tz: zoneinfo.ZoneInfo,
    *,
    arrival_field: str = "",
    status_codes: dict[str, str] | None = None,
    system_name: str = "",
) -> Booking:
    """The booking a decoded SIU message carries; NotTaken / NotApplied when it cannot be read."""
    if header.message_type != "SIU":
        raise NotTaken(
            f"{header.type_name or 'This message type'} is not taken here: send SIU S12-S15, S17 or S26.",
            Err.MESSAGE_TYPE,
        )
    if header.trigger not in TRIGGERS:
        raise NotTaken(f"{header.type_name} is not taken here: send SIU S12-S15, S17 or S26.", Err.EVENT)
    message = _parsed(text, header)
    sch = _first(message, "SCH")
    if sch is None:
        raise NotApplied("The SCH segment is missing.", Err.SEGMENT)
    filler, placer = _get(sch, 2, 1, 1), _get(sch, 1, 1, 1)
    if not filler and not placer:
        raise NotApplied(
            "SCH-1 (placer appointment id) and SCH-2 (filler appointment id) are both empty.", Err.REQUIRED
        )
    booking_trigger = TRIGGERS[header.trigger] in (Action.BOOK, Action.UPDATE)
    # A cancel or delete trigger says what it wants whatever SCH-25 holds.
    status = filler_status(sch, status_codes or {}, system_name) if booking_trigger else _get(sch, 25, 1, 1)
    action = _action(header, status)
    pid = _first(message, "PID")
    if pid is None and action in (Action.BOOK, Action.UPDATE):
        raise NotApplied("The PID segment (the patient) is missing.", Err.SEGMENT)
    child = _child(pid)
    if child is not None and not child.mrn:
        raise NotApplied("PID-3 has no medical record number.", Err.REQUIRED)
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


# Quotation marks our reasons use, for senders whose charset (8859/1, ASCII) has none.
PLAIN = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "–": "-", "—": "-", "…": "..."})


def ack(header: Header, code: str, reason: str = "", error: Err | None = None) -> bytes:
    """ACK for `header`: AA, AE (with the reason in MSA-3 and ERR-8) or AR, in the sender's charset."""
    codec = ack_codec(header)
    if codec not in ("utf-8", "utf-16-le", "utf-16-be"):
        reason = reason.translate(PLAIN)
    now = timezone.now().strftime("%Y%m%d%H%M%S+0000")
    fields = [
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
    if header.charset:
        fields += ["", "", "", "", "", _escape(header.charset)]
    segments = ["|".join(fields), f"MSA|{code}|{_escape(header.control_id)}|{_escape(reason)[:80]}"]
    if code != "AA":
        error = error or (Err.INTERNAL if code == "AE" else Err.MESSAGE_TYPE)
        segments.append(f"ERR|||{error}^HL70357|E||||{_escape(reason)}")
    text = "\r".join(segments) + "\r"
    return (codecs.BOM_UTF8 if header.wire == "utf-8" else b"") + text.encode(codec, errors="replace")
