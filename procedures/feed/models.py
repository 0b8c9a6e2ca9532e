"""Who may send us schedules, how their codes map to ours, and every message they sent."""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
import zoneinfo
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.models import Role, User
from procedures.models import Location, Patient, Procedure, ProcedureKind, Sedation, scoped, validate_time_zone
from procedures.models.care import ACTIVE_STATUSES

if TYPE_CHECKING:
    from datetime import datetime


class SendingSystemQuerySet(models.QuerySet["SendingSystem"]):
    def visible_to(self, user: User) -> SendingSystemQuerySet:
        return scoped(self, user, nurse=Q(pk__in=SendingSystem.objects.filter(clinics__nurses=user.pk)), guardian=None)


class ProcessingMode(models.TextChoices):
    """MSH-11 (HL7 Table 0103): a production system takes P; a test system takes T and D."""

    PRODUCTION = "production", _("Production (MSH-11 P)")
    TEST = "test", _("Test (MSH-11 T or D)")


# Where the procedure named in an SIU message may be read, in HL7 field terms.
SERVICE_FIELDS = ("AIS-3", "SCH-8", "SCH-7")
DEFAULT_SERVICE_ORDER = " ".join(SERVICE_FIELDS)
_FIELD_SPEC = re.compile(r"^[A-Z][A-Z0-9]{2}-\d{1,3}(\.\d{1,2})?$")


def validate_service_order(value: str) -> None:
    names = value.split()
    unknown = [name for name in names if name not in SERVICE_FIELDS]
    if not names or unknown or len(set(names)) != len(names):
        raise ValidationError(
            _("List each of %(fields)s at most once, separated by spaces."),
            params={"fields": ", ".join(SERVICE_FIELDS)},
        )


def validate_status_codes(value: Any) -> None:
    """The sender's own SCH-25 codes, each naming a status HL7 Table 0278 has (or Arrived)."""
    from .hl7v2 import FILLER_STATUS, FILLER_STATUS_NAMES

    if not isinstance(value, dict):
        raise ValidationError(_('Write the codes as JSON, for example {"1": "Booked", "3": "Cancelled"}.'))
    wrong = [
        str(code)
        for code, status in value.items()
        if not str(code).strip() or not isinstance(status, str) or status.strip().upper() not in FILLER_STATUS
    ]
    if wrong:
        raise ValidationError(
            _("Codes %(codes)s: each must name one of %(statuses)s."),
            params={"codes": ", ".join(wrong) or "“”", "statuses": ", ".join(FILLER_STATUS_NAMES)},
        )


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address_items(value: str) -> list[str]:
    return [item for item in re.split(r"[\s,]+", value.strip()) if item]


def parse_networks(value: str) -> list[Network]:
    """Addresses and CIDR networks separated by spaces, commas or new lines; a bare address is a /32 (/128)."""
    return [ipaddress.ip_network(item, strict=False) for item in _address_items(value)]


def validate_networks(value: str) -> None:
    wrong = []
    for item in _address_items(value):
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            wrong.append(item)
    if wrong:
        raise ValidationError(
            _("Not an IP address or network: %(items)s. Write, for example, 10.20.0.7 or 10.20.0.0/24."),
            params={"items": ", ".join(wrong)},
        )


def validate_field_spec(value: str) -> None:
    if value and not _FIELD_SPEC.match(value):
        raise ValidationError(_("Write a segment and field, for example AIL-6 or ZAP-2.1."))


class SendingSystem(models.Model):
    """A hospital system (or the interface engine in front of it) that books procedures for us."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    hl7_application = models.CharField(
        _("HL7 sending application"), max_length=180, blank=True, help_text=_("MSH-3 as the engine sends it.")
    )
    hl7_facility = models.CharField(
        _("HL7 sending facility"), max_length=180, blank=True, help_text=_("MSH-4 as the engine sends it.")
    )
    timezone = models.CharField(
        _("time zone"),
        max_length=64,
        default="America/Chicago",
        validators=[validate_time_zone],
        help_text=_("For times the system sends without a UTC offset."),
    )
    arrival_lead_minutes = models.PositiveSmallIntegerField(
        _("arrive this many minutes before the start"),
        default=60,
        validators=[MaxValueValidator(360)],
        help_text=_("Used when the message gives no arrival time of its own."),
    )
    arrival_field = models.CharField(
        _("arrival time field"),
        max_length=12,
        blank=True,
        validators=[validate_field_spec],
        help_text=_("Where the engine puts the arrival time, for example AIL-6 or ZAP-2. Empty: use the lead above."),
    )
    service_order = models.CharField(
        _("where the procedure is named"),
        max_length=40,
        default=DEFAULT_SERVICE_ORDER,
        validators=[validate_service_order],
        help_text=_("Fields read in this order; the first code with a mapping wins."),
    )
    status_codes = models.JSONField(
        _("SCH-25 status codes"),
        blank=True,
        default=dict,
        validators=[validate_status_codes],
        help_text=_(
            "The system's own filler status codes and the HL7 status each means, for example "
            '{"1": "Booked", "3": "Cancelled", "4": "Noshow"}. Read before the standard names; an unknown code '
            "is refused (AE), never booked."
        ),
    )
    processing_mode = models.CharField(
        _("processing mode"),
        max_length=12,
        choices=ProcessingMode.choices,
        default=ProcessingMode.PRODUCTION,
        help_text=_("Messages of the other kind (MSH-11) are refused."),
    )
    allowed_addresses = models.TextField(
        _("addresses it may send from"),
        blank=True,
        validators=[validate_networks],
        help_text=_(
            "IP addresses or networks (CIDR) its MLLP connections come from, separated by spaces or new lines, "
            "for example 10.20.0.7 10.20.30.0/24. Empty: any address. A message from elsewhere is refused (AR)."
        ),
    )
    clinics = models.ManyToManyField(
        Location, related_name="sending_systems", verbose_name=_("clinics it books for"), blank=True
    )
    # Every change a message makes is recorded with this account as the actor.
    actor = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="sending_system", editable=False
    )
    is_active = models.BooleanField(_("accepting messages"), default=True)
    # SMART Backend Services: the client signs a JWT with a key whose public half is registered here.
    smart_client_id = models.CharField(
        _("SMART client id"),
        max_length=180,
        blank=True,
        help_text=_("The client_id its FHIR client signs its JWT assertions with (iss and sub)."),
    )
    smart_jwks = models.JSONField(
        _("SMART public keys (JWKS)"),
        blank=True,
        default=dict,
        help_text=_("The client's JSON Web Key Set, pasted as JSON; or give its address below."),
    )
    smart_jwks_url = models.URLField(
        _("SMART JWKS address"),
        blank=True,
        help_text=_("Where the client publishes its JSON Web Key Set (the only jku it may name)."),
    )
    smart_scopes = models.CharField(
        _("SMART scopes it may be granted"),
        max_length=200,
        default="system/Appointment.read system/Appointment.write",
    )

    objects = SendingSystemQuerySet.as_manager()

    class Meta:
        verbose_name = _("sending system")
        verbose_name_plural = _("sending systems")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["hl7_application", "hl7_facility"],
                condition=~Q(hl7_application=""),
                name="feed_system_unique_hl7_sender",
            ),
            models.UniqueConstraint(
                fields=["smart_client_id"], condition=~Q(smart_client_id=""), name="feed_system_unique_smart_client"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.actor_id is None:
            # Inactive with no password: the account can never log in or reset a password.
            self.actor = User.objects.create_user(
                email=f"system-{secrets.token_hex(6)}@record-system.invalid",
                full_name=f"{self.name} (record system)",
                role=Role.SYSTEM,
                is_active=False,
            )
        elif self.actor.full_name != f"{self.name} (record system)":
            User.objects.filter(pk=self.actor_id).update(full_name=f"{self.name} (record system)")
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        keys = self.smart_jwks.get("keys") if isinstance(self.smart_jwks, dict) else None
        if self.smart_jwks and not (isinstance(keys, list) and all(isinstance(key, dict) for key in keys)):
            raise ValidationError({"smart_jwks": _('A JSON Web Key Set looks like {"keys": [{"kty": …, "kid": …}]}.')})

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def allows_address(self, peer: str) -> bool:
        """Whether a connection from `peer` may carry this system's messages (an empty list: any)."""
        networks = parse_networks(self.allowed_addresses)
        if not networks:
            return True
        try:
            address = ipaddress.ip_address(peer.partition("%")[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # a dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d
        return any(address in network for network in networks)

    def takes_processing_id(self, processing_id: str) -> bool:
        wanted = ("P",) if self.processing_mode == ProcessingMode.PRODUCTION else ("T", "D")
        return (processing_id or "P").upper() in wanted


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(models.Model):
    """A FHIR client's bearer token. Only its hash is kept; the token is shown once.

    Either static (made in the admin: no expiry, every scope) or an access token the
    SMART token endpoint issued: short-lived, with the scopes granted.
    """

    system = models.ForeignKey(SendingSystem, on_delete=models.CASCADE, related_name="tokens")
    label = models.CharField(_("label"), max_length=80, blank=True)
    prefix = models.CharField(_("starts with"), max_length=12, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True, editable=False)
    scopes = models.CharField(_("scopes"), max_length=200, blank=True, editable=False)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.system})"

    def set_new_token(self) -> str:
        """Give this row a fresh token; returns the clear text, which is not stored."""
        token = "mr_" + secrets.token_urlsafe(32)
        self.prefix = token[:10]
        self.token_hash = _hash(token)
        return token

    @classmethod
    def find_active(cls, token: str) -> ApiToken | None:
        return (
            cls.objects.select_related("system__actor")
            .filter(token_hash=_hash(token), revoked_at__isnull=True, system__is_active=True)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
            .first()
        )


class AssertionUse(models.Model):
    """A SMART client assertion's jti, kept until the assertion expires: a second use is a replay."""

    system = models.ForeignKey(SendingSystem, on_delete=models.CASCADE, related_name="+")
    jti = models.CharField(max_length=255)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["system", "jti"], name="feed_assertion_unique_jti")]

    def __str__(self) -> str:
        return f"{self.system_id}: {self.jti}"


class LocationCode(models.Model):
    """The system's code for a place (AIL-3, Appointment's Location) and our clinic."""

    system = models.ForeignKey(SendingSystem, on_delete=models.CASCADE, related_name="location_codes")
    code = models.CharField(_("their code"), max_length=80)
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="+", verbose_name=_("clinic"))

    class Meta:
        verbose_name = _("location code")
        verbose_name_plural = _("location codes")
        constraints = [models.UniqueConstraint(fields=["system", "code"], name="feed_location_code_unique")]

    def __str__(self) -> str:
        return f"{self.code} → {self.location}"


class ExternalLocation(models.Model):
    """A FHIR Location a sending system sent in a Bundle: how a later Appointment may refer to it.

    Its id when it was sent from no other server (a urn:uuid or relative fullUrl), or the full
    URL it was sent under, as `ExternalPatient.resource_id`; and the code it carried (its
    identifier), which a LocationCode maps to a clinic.
    """

    system = models.ForeignKey(SendingSystem, on_delete=models.CASCADE, related_name="+")
    resource_id = models.CharField(_("FHIR Location id"), max_length=255)
    code = models.CharField(_("their code"), max_length=80)

    class Meta:
        verbose_name = _("FHIR Location sent")
        verbose_name_plural = _("FHIR Locations sent")
        constraints = [
            models.UniqueConstraint(fields=["system", "resource_id"], name="feed_external_location_unique_id")
        ]

    def __str__(self) -> str:
        return f"{self.resource_id} → {self.code}"


class ServiceCode(models.Model):
    """The system's code for a service (AIS-3, Appointment.serviceType): which procedure, which sedation."""

    system = models.ForeignKey(SendingSystem, on_delete=models.CASCADE, related_name="service_codes")
    code = models.CharField(_("their code"), max_length=80)
    kind = models.CharField(_("procedure"), max_length=16, choices=ProcedureKind.choices)
    sedation = models.CharField(_("sedation"), max_length=16, choices=Sedation.choices)

    class Meta:
        verbose_name = _("service code")
        verbose_name_plural = _("service codes")
        constraints = [models.UniqueConstraint(fields=["system", "code"], name="feed_service_code_unique")]

    def __str__(self) -> str:
        return f"{self.code} → {self.get_kind_display()}, {self.get_sedation_display()}"


class ExternalPatient(models.Model):
    """A child as a sending system knows it: its MRN there (PID-3) and, for FHIR, its resource id."""

    system = models.ForeignKey(SendingSystem, on_delete=models.CASCADE, related_name="patients")
    mrn = models.CharField(_("their MRN"), max_length=64)
    # How a later Appointment may refer to it: the Patient's id when it was sent from no other
    # server (a urn:uuid or relative fullUrl), or the full URL it was sent under.
    resource_id = models.CharField(_("FHIR Patient id"), max_length=255, blank=True)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = _("child in a sending system")
        verbose_name_plural = _("children in sending systems")
        constraints = [models.UniqueConstraint(fields=["system", "mrn"], name="feed_patient_unique_mrn")]

    def __str__(self) -> str:
        return f"{self.system}: {self.mrn}"


def children_without_guardian(user: User) -> models.QuerySet[Patient]:
    """Children a sending system booked who have no parent or guardian: the nurses' list asks for one."""
    active = Q(procedures__status__in=ACTIVE_STATUSES)
    return (
        Patient.objects.visible_to(user)
        .filter(pk__in=ExternalPatient.objects.values("patient_id"), guardians__isnull=True)
        .filter(active)
        .annotate(next_start=models.Min("procedures__scheduled_start", filter=active))
        .select_related("location")
        .order_by("next_start", "pk")
    )


class ExternalAppointment(models.Model):
    """One appointment in a sending system and what we last applied for it.

    Keyed by the filler id (SCH-2) when the sender gives one, else by the placer id
    (SCH-1): HL7 asks for at least one. A later message carrying both finds the row
    first known by its placer id and records the filler id on it.

    Messages are ordered by the time the sender stamped on them, never by
    arrival: one older than `last_message_at` changes nothing.
    """

    system = models.ForeignKey(SendingSystem, on_delete=models.CASCADE, related_name="appointments")
    filler_id = models.CharField(_("their appointment id"), max_length=120, blank=True)
    placer_id = models.CharField(_("placer appointment id"), max_length=120, blank=True)
    procedure = models.ForeignKey(Procedure, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    last_message_at = models.DateTimeField(_("time of the last applied message"), null=True, blank=True)
    # What that message asked (booking.Action): for the tie-break of messages stamped the same moment.
    last_action = models.CharField(_("what the last applied message asked"), max_length=12, blank=True)
    cancelled = models.BooleanField(_("cancelled there"), default=False)

    class Meta:
        verbose_name = _("appointment in a sending system")
        verbose_name_plural = _("appointments in sending systems")
        constraints = [
            models.UniqueConstraint(
                fields=["system", "filler_id"], condition=~Q(filler_id=""), name="feed_appointment_unique_id"
            ),
            # Placer ids key only the rows that have no filler id (some engines send SCH-1 as "1").
            models.UniqueConstraint(
                fields=["system", "placer_id"], condition=Q(filler_id=""), name="feed_appointment_unique_placer"
            ),
            models.CheckConstraint(condition=~Q(filler_id="", placer_id=""), name="feed_appointment_has_an_id"),
        ]

    def __str__(self) -> str:
        return f"{self.system}: {self.their_id}"

    @property
    def their_id(self) -> str:
        return self.filler_id or self.placer_id

    def is_newer(self, message_at: datetime, action: str = "") -> bool:
        """Whether a message stamped `message_at` comes after the last one applied.

        Engines stamp MSH-7 to the minute (Corepoint, athena), so ties are common. Within one
        timestamp messages apply in the order they arrive, except that a booking (S12) never
        undoes a change (S13/S14) of the same moment: a booking comes before its changes. An
        S12 for an appointment already known, with a later timestamp, is applied as an update.
        """
        if self.last_message_at is None or message_at > self.last_message_at:
            return True
        if message_at < self.last_message_at:
            return False
        return not (action == "book" and self.last_action == "update")


class AppointmentIdentifier(models.Model):
    """One of the identifiers (system|value) a FHIR client gave an appointment: any of them finds it."""

    system = models.ForeignKey(SendingSystem, on_delete=models.CASCADE, related_name="+")
    appointment = models.ForeignKey(ExternalAppointment, on_delete=models.CASCADE, related_name="identifiers")
    uri = models.CharField(_("identifier system"), max_length=255, blank=True)
    value = models.CharField(_("identifier value"), max_length=255)

    class Meta:
        verbose_name = _("appointment identifier")
        verbose_name_plural = _("appointment identifiers")
        constraints = [
            models.UniqueConstraint(fields=["system", "uri", "value"], name="feed_appointment_identifier_unique")
        ]

    def __str__(self) -> str:
        return f"{self.uri}|{self.value}"


class Protocol(models.TextChoices):
    HL7 = "hl7v2", _("HL7 v2 over MLLP")
    FHIR = "fhir", _("FHIR R4")


class MessageStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    APPLIED = "applied", _("Applied")
    UNCHANGED = "unchanged", _("Nothing to change")
    FAILED = "failed", _("Could not be applied")
    REJECTED = "rejected", _("Not a message we take")
    DISMISSED = "dismissed", _("Dismissed by a nurse")


class InboundMessageQuerySet(models.QuerySet["InboundMessage"]):
    def visible_to(self, user: User) -> InboundMessageQuerySet:
        return scoped(
            self, user, nurse=Q(system__in=SendingSystem.objects.filter(clinics__nurses=user.pk)), guardian=None
        )

    def to_fix(self) -> InboundMessageQuerySet:
        """The nurses' list: what could not be applied, and what was refused (AR), until dismissed."""
        return self.filter(status__in=(MessageStatus.FAILED, MessageStatus.REJECTED))


class InboundMessage(models.Model):
    """Every message as it arrived, stored before anything is done with it."""

    system = models.ForeignKey(SendingSystem, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    protocol = models.CharField(_("protocol"), max_length=8, choices=Protocol.choices)
    raw = models.BinaryField(_("message as received"))
    received_at = models.DateTimeField(_("received"), default=timezone.now, db_index=True)
    peer = models.CharField(_("sent from"), max_length=64, blank=True)
    control_id = models.CharField(_("message control id"), max_length=199, blank=True)
    message_type = models.CharField(_("type"), max_length=20, blank=True)
    message_at = models.DateTimeField(_("message time"), null=True, blank=True)
    filler_id = models.CharField(_("their appointment id"), max_length=120, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=MessageStatus.choices, default=MessageStatus.RECEIVED)
    reason = models.TextField(_("reason"), blank=True)
    procedure = models.ForeignKey(Procedure, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # Who the message is about, as it named the child (read before anything is applied).
    mrn = models.CharField(_("MRN"), max_length=64, blank=True)
    child_name = models.CharField(_("child"), max_length=170, blank=True)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    dismiss_reason = models.CharField(_("why it was dismissed"), max_length=200, blank=True)
    # The same bytes sent again under the same control id, while this row waits: folded into it.
    resends = models.PositiveIntegerField(_("sent again"), default=0)
    handled_at = models.DateTimeField(_("last handled"), null=True, blank=True)

    objects = InboundMessageQuerySet.as_manager()

    class Meta:
        verbose_name = _("inbound message")
        verbose_name_plural = _("inbound messages")
        ordering = ["-received_at", "-pk"]
        indexes = [
            # The nurses' work queue and the dashboard count.
            models.Index(fields=["status", "system"], name="feed_msg_status_system"),
            # Recognising a resend after a lost acknowledgement.
            models.Index(fields=["system", "control_id"], name="feed_msg_control_id"),
        ]

    def __str__(self) -> str:
        return f"{self.get_protocol_display()} {self.message_type} {self.control_id} ({self.get_status_display()})"

    @property
    def text(self) -> str:
        """The raw message for reading: one segment per line, undecodable bytes shown as escapes."""
        data = bytes(self.raw)
        if self.protocol == Protocol.HL7:
            from .hl7v2 import readable

            return readable(data).replace("\r", "\n")
        return data.decode("utf-8", errors="backslashreplace")
