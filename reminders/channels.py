"""Ways a message leaves the portal. One interface; each provider decides which errors are permanent."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMessage
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
    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Transport:
    name = ""

    def send(self, message: Message) -> str:
        """Hand the message over; return the provider's id for it. Raise DeliveryError."""
        raise NotImplementedError


class OutboxTransport(Transport):
    """Keeps the message in the database (the embedded default, and for demos)."""

    name = "outbox"

    def send(self, message: Message) -> str:
        row = OutboxMessage.objects.create(
            channel=message.channel,
            to=message.to,
            subject=message.subject,
            body=message.body,
            reminder_id=message.reminder_id,
            created_at=message.at or timezone.now(),
        )
        return f"outbox-{row.pk}"


class EmailTransport(Transport):
    name = "email"

    def send(self, message: Message) -> str:
        email = EmailMessage(message.subject, message.body, to=[message.to])
        try:
            email.send()
        except smtplib.SMTPRecipientsRefused as error:
            raise DeliveryError("The email address was refused.", permanent=True) from error
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryError(f"Email server error: {type(error).__name__}") from error
        return email.extra_headers.get("Message-ID", "")


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

    def send(self, message: Message) -> str:
        sid, token = settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN
        url = f"https://api.twilio.com/2010-04-01/Accounts/{sid}/Messages.json"
        data = {"To": message.to, "Body": message.body, "StatusCallback": status_callback_url()}
        if settings.TWILIO_MESSAGING_SERVICE_SID:
            data["MessagingServiceSid"] = settings.TWILIO_MESSAGING_SERVICE_SID
        else:
            data["From"] = settings.TWILIO_FROM_NUMBER
        try:
            response = http.post(url, data, auth=(sid, token))
        except http.TransportError as error:
            raise DeliveryError(f"Could not reach Twilio: {error}") from error
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


def status_callback_url() -> str:
    return settings.SITE_URL + reverse("reminders:twilio_status")


TRANSPORTS: dict[str, type[Transport]] = {
    cls.name: cls for cls in (OutboxTransport, EmailTransport, TwilioSmsTransport)
}


def transport_for(channel: str) -> Transport:
    name = settings.SMS_BACKEND if channel == Channel.SMS else settings.REMINDER_EMAIL_BACKEND
    return TRANSPORTS[name]()
