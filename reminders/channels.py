"""Ways a message leaves the portal. One interface; each provider decides which errors are permanent."""

from __future__ import annotations

import hashlib
import smtplib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import partial

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from . import http
from .models import Channel, OutboxMessage


@dataclass(frozen=True)
class Message:
    channel: str
    to: str
    subject: str
    body: str
    reminder_id: int | None = None
    at: datetime | None = None  # when it is sent; the outbox records it


class DeliveryError(Exception):
    """The provider definitely did not accept the message: safe to try again unless permanent."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class OutcomeUnknown(Exception):
    """The provider may or may not have the message: never send again before finding out."""


@dataclass(frozen=True)
class Lookup:
    """What the provider says about a message whose hand-over had no clear answer."""

    found: bool | None  # True: it has it; False: it never got it; None: it cannot tell us
    provider_id: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Sent:
    """A hand-over with no clear answer, as kept on its attempt row."""

    reminder_id: int
    to: str
    body_sha256: str
    started_at: datetime


def body_digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


class Transport:
    name = ""
    # A transport into this database: its hand-overs commit with the move to sent, so its whole
    # batch is one call. A provider across the network is called once a message, several at once.
    local = False
    # Whether `lookup` can tell if a message arrived (Twilio's API, our own outbox); a mail server cannot.
    can_lookup = False

    def send(self, message: Message) -> str:
        """Hand the message over; return the provider's id for it.

        Raise DeliveryError when the provider did not take it, OutcomeUnknown when it may have.
        """
        raise NotImplementedError

    def send_many(self, messages: list[Message]) -> list[str]:
        """Hand several over at once (a local transport: all of them, or none); their ids in order."""
        return [self.send(message) for message in messages]

    def lookup(self, sent: Sent) -> Lookup:
        return Lookup(None, detail="This provider cannot be asked whether a message arrived.")


class OutboxTransport(Transport):
    """Keeps the message in the database (the embedded default, and for demos)."""

    can_lookup = True

    name = "outbox"
    local = True

    def send(self, message: Message) -> str:
        return self.send_many([message])[0]

    def send_many(self, messages: list[Message]) -> list[str]:
        rows = OutboxMessage.objects.bulk_create(
            OutboxMessage(
                channel=message.channel,
                to=message.to,
                subject=message.subject,
                body=message.body,
                reminder_id=message.reminder_id,
                created_at=message.at or timezone.now(),
            )
            for message in messages
        )
        if settings.OUTBOX_ECHO:
            # The embedded default: show what would have gone out where the person trying it looks.
            for message in messages:
                heading = f"{message.channel} to {message.to}" + (f": {message.subject}" if message.subject else "")
                transaction.on_commit(partial(print, f"\n----- {heading}\n{message.body}\n-----", flush=True))
        return [f"outbox-{row.pk}" for row in rows]

    def lookup(self, sent: Sent) -> Lookup:
        # The row and the move to sent commit together: the table is the whole truth.
        row = OutboxMessage.objects.filter(reminder_id=sent.reminder_id).first()
        return Lookup(True, f"outbox-{row.pk}") if row else Lookup(False)


class EmailTransport(Transport):
    name = "email"

    def send(self, message: Message) -> str:
        connection = get_connection()
        email = EmailMessage(message.subject, message.body, to=[message.to], connection=connection)
        try:
            # Connecting and greeting: a failure here means the server never got the message.
            connection.open()
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryError(f"Email server error: {type(error).__name__}") from error
        try:
            email.send()
        except smtplib.SMTPRecipientsRefused as error:
            raise DeliveryError("The email address was refused.", permanent=True) from error
        except smtplib.SMTPResponseException as error:
            # The server answered no: a definite refusal (5xx for good, 4xx for now).
            raise DeliveryError(f"Email server refused: {error.smtp_code}", permanent=error.smtp_code >= 500) from error
        except (smtplib.SMTPException, OSError) as error:
            # No answer after the message went out: the server may have queued it.
            raise OutcomeUnknown(f"The email server stopped answering ({type(error).__name__}).") from error
        finally:
            connection.close()
        return email.extra_headers.get("Message-ID", "")

    def lookup(self, sent: Sent) -> Lookup:
        return Lookup(
            None,
            detail="A mail server cannot be asked afterwards. It stopped answering after the message went to it,"
            " so it may or may not have arrived.",
        )


# Twilio error codes that will not succeed on retry.
# https://www.twilio.com/docs/api/errors
TWILIO_PERMANENT = {
    21211: "The number is not a valid phone number.",
    21408: "Texts to this region are not enabled.",
    21610: "The person replied STOP to our texts.",
    21612: "The number cannot receive texts from us.",
    21614: "The number is not a mobile number.",
}


class TwilioSmsTransport(Transport):
    name = "twilio"
    can_lookup = True

    def send(self, message: Message) -> str:
        sid, token = settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN
        url = f"{settings.TWILIO_API_URL}/2010-04-01/Accounts/{sid}/Messages.json"
        data = {"To": message.to, "Body": message.body, "StatusCallback": status_callback_url()}
        if settings.TWILIO_MESSAGING_SERVICE_SID:
            data["MessagingServiceSid"] = settings.TWILIO_MESSAGING_SERVICE_SID
        else:
            data["From"] = settings.TWILIO_FROM_NUMBER
        try:
            response = http.post(url, data, auth=(sid, token))
        except http.TransportError as error:
            raise DeliveryError(f"Could not reach Twilio: {error}") from error
        except http.NoAnswer as error:
            raise OutcomeUnknown(f"Twilio did not answer in time: {error}") from error
        if response.status in (200, 201):
            return str(response.body.get("sid", ""))
        code = response.body.get("code")
        if code in TWILIO_PERMANENT:
            raise DeliveryError(TWILIO_PERMANENT[code], permanent=True)
        if response.status in (401, 403):
            raise DeliveryError("Twilio refused our credentials.", permanent=True)
        if response.status == 400:
            raise DeliveryError(f"Twilio refused the message (code {code}).", permanent=True)
        raise DeliveryError(f"Twilio answered {response.status}.")

    # How long after our request Twilio may still create the message it was given.
    LOOKUP_WINDOW = timedelta(seconds=http.TIMEOUT_SECONDS + 60)

    def lookup(self, sent: Sent) -> Lookup:
        """Ask Twilio for messages to this number since the attempt, and match ours by its text or time."""
        sid, token = settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN
        url = f"{settings.TWILIO_API_URL}/2010-04-01/Accounts/{sid}/Messages.json"
        params = {"To": sent.to, "DateSent>": sent.started_at.astimezone(UTC).date().isoformat(), "PageSize": "100"}
        try:
            response = http.get(url, params, auth=(sid, token))
        except (http.TransportError, http.NoAnswer) as error:
            return Lookup(None, detail=f"Could not ask Twilio: {error}")
        if response.status != 200:
            return Lookup(None, detail=f"Twilio answered {response.status} when asked.")
        window_end = sent.started_at + self.LOOKUP_WINDOW
        for found in response.body.get("messages") or []:
            if not isinstance(found, dict) or found.get("to") != sent.to:
                continue
            created = _twilio_time(found.get("date_created"))
            if sent.body_sha256 and body_digest(str(found.get("body", ""))) == sent.body_sha256:
                return Lookup(True, str(found.get("sid", "")), f"Twilio has it: {found.get('status', '')}")
            in_window = created is not None and sent.started_at - timedelta(seconds=5) <= created <= window_end
            if in_window and not sent.body_sha256:
                # Without the text's digest a message to the same number at that time may be another one.
                return Lookup(None, detail="Twilio has a text to this number from that minute; it may be this one.")
        return Lookup(False, detail="Twilio has no such message.")


def _twilio_time(value: object) -> datetime | None:
    try:
        return parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None


def status_callback_url() -> str:
    return settings.SITE_URL + reverse("reminders:twilio_status")


TRANSPORTS: dict[str, type[Transport]] = {
    cls.name: cls for cls in (OutboxTransport, EmailTransport, TwilioSmsTransport)
}


def transport_for(channel: str) -> Transport:
    name = settings.SMS_BACKEND if channel == Channel.SMS else settings.REMINDER_EMAIL_BACKEND
    return TRANSPORTS[name]()
