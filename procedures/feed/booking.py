"""What a scheduling message asks for, whichever protocol it came in, and why it may not be applied."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime


class Action(enum.StrEnum):
    BOOK = "book"
    UPDATE = "update"
    CANCEL = "cancel"
    NO_SHOW = "no_show"
    COMPLETE = "complete"


@dataclass(frozen=True)
class ChildData:
    mrn: str
    first_name: str = ""
    last_name: str = ""
    date_of_birth: date | None = None
    language: str = ""  # "en", "es" or "" when not sent
    # Other ids the sender has known this child by (MRG-1, or PID-2/PID-3/PID-4 besides the MRN).
    prior_mrns: tuple[str, ...] = ()


@dataclass(frozen=True)
class GuardianData:
    full_name: str
    relationship: str = ""
    mobile: str = ""
    email: str = ""


@dataclass(frozen=True)
class Booking:
    action: Action
    filler_id: str
    message_at: datetime
    start: datetime | None = None
    location_code: str = ""
    service_code: str = ""
    # Every code the message names the service by, with the field it came in ("AIS-3", "SCH-8"...);
    # the sending system's order decides which is read first. Empty: `service_code` alone.
    service_candidates: tuple[tuple[str, str], ...] = ()
    # SCH-1; the appointment's key when the message has no filler id (SCH-2).
    placer_id: str = ""
    # The arrival time the sender gives, when it gives one.
    arrival: datetime | None = None
    filler_status: str = ""  # SCH-25 as sent, for the record
    child: ChildData | None = None
    guardians: list[GuardianData] = field(default_factory=list)
    # A FHIR Patient's and Location's own ids (or full URLs), so a later Appointment may refer to them.
    child_resource_id: str = ""
    location_resource_id: str = ""
    note: str = ""  # the reason a cancellation gives, when it gives one

    @property
    def appointment_id(self) -> str:
        """The id the appointment is known by: the filler's, else the placer's."""
        return self.filler_id or self.placer_id


class Err(enum.StrEnum):
    """HL7 Table 0357 (message error condition), sent in ERR-3. 207 only for our own faults."""

    SEGMENT = "100^Segment sequence error"  # a required segment missing or out of place
    REQUIRED = "101^Required field missing"
    DATA_TYPE = "102^Data type error"  # not a date, or a date and time this booking cannot have
    TABLE = "103^Table value not found"  # a code (MSH-3/4, MSH-18, AIL-3, AIS-3...) with no entry here
    MESSAGE_TYPE = "200^Unsupported message type"
    EVENT = "201^Unsupported event code"
    PROCESSING_ID = "202^Unsupported processing id"
    UNKNOWN_KEY = "204^Unknown key identifier"  # a change to an appointment or child we do not know
    DUPLICATE_KEY = "205^Duplicate key identifier"  # an id already used for another child or booking
    LOCKED = "206^Application record locked"
    INTERNAL = "207^Application internal error"
    # v2.7+: no code of its own is given for a sender refused for where it connects from.
    OTHER = "199^Other HL7 error"


@dataclass(frozen=True)
class PatientEvent:
    """An ADT message about a child: its details changed (A08, A31) or two records merged (A34, A40, A47)."""

    merge: bool
    child: ChildData
    message_at: datetime
    guardians: list[GuardianData] = field(default_factory=list)

    appointment_id = ""  # not about an appointment


class NotApplied(Exception):
    """A message we take that cannot be applied now (HL7 AE): the reason is for the sender and the nurse."""

    def __init__(self, reason: str, code: Err = Err.DATA_TYPE) -> None:
        super().__init__(reason)
        self.reason, self.code = reason, code


class NotTaken(Exception):
    """A message we do not take at all (HL7 AR)."""

    def __init__(self, reason: str, code: Err = Err.MESSAGE_TYPE) -> None:
        super().__init__(reason)
        self.reason, self.code = reason, code
