from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.utils.translation import gettext_lazy as _

from portal.models import Language, User
from portal.phones import display as phone_display
from portal.phones import normalize_mobile
from procedures.models import ConsentVia, Guardian

from .models import Channel, Kind, Status

SMS_CONSENT_TEXT = _(
    "I agree to get text messages from my child's clinic through Marrow Ready about appointments, "
    "fasting times and care afterwards, at the mobile number above. Message and data rates may apply. "
    "I can reply STOP at any time to stop, or HELP for help."
)


class PreferencesForm(forms.Form):
    email = forms.EmailField(label=_("Email"), max_length=254)
    email_enabled = forms.BooleanField(label=_("Send me reminders by email"), required=False)
    sms_enabled = forms.BooleanField(label=_("Send me reminders by text message"), required=False)
    mobile_number = forms.CharField(
        label=_("Mobile number"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    sms_consent = forms.BooleanField(label=SMS_CONSENT_TEXT, required=False)
    language = forms.ChoiceField(label=_("Language"), choices=Language.choices)
    current_password = forms.CharField(
        label=_("Your password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text=_("Needed only to change your email or mobile number."),
    )

    def __init__(self, *args: Any, guardian: Guardian, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guardian = guardian
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", _("Save")))

    @classmethod
    def initial_for(cls, guardian: Guardian) -> dict[str, Any]:
        return {
            "email": guardian.user.email,
            "email_enabled": guardian.email_enabled,
            "sms_enabled": guardian.sms_enabled,
            "mobile_number": phone_display(guardian.mobile_number),
            "sms_consent": bool(guardian.sms_consent_at),
            "language": guardian.user.language,
        }

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exclude(pk=self.guardian.user_id).exists():
            raise forms.ValidationError(_("This email is already used by another account."))
        return email

    def contact_changed(self) -> bool:
        data = self.cleaned_data
        return data.get("email") != self.guardian.user.email or data.get("mobile_number") != self.guardian.mobile_number

    def clean_mobile_number(self) -> str:
        value = self.cleaned_data["mobile_number"].strip()
        return normalize_mobile(value) if value else ""

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        changing = "email" in data and "mobile_number" in data and self.contact_changed()
        if changing and not self.guardian.user.check_password(data.get("current_password") or ""):
            self.add_error("current_password", _("Please enter your password to change your email or mobile number."))
        if not data.get("sms_enabled"):
            return data
        if not data.get("mobile_number") and "mobile_number" not in self.errors:
            self.add_error("mobile_number", _("Please give a mobile number for text messages."))
        number_changed = data.get("mobile_number") != self.guardian.mobile_number
        if data.get("sms_consent"):
            return data
        if number_changed and self.guardian.sms_consent_at is not None:
            self.add_error("sms_consent", _("You changed your number: please tick the box again to agree."))
        elif number_changed or self.guardian.sms_consent_at is None:
            self.add_error("sms_consent", _("To get text messages, please tick the box to agree."))
        return data


class RecordConsentForm(forms.Form):
    """A nurse records consent the family gave in person or by phone, after reading them the words."""

    via = forms.ChoiceField(
        label=_("How did they agree?"),
        choices=[(ConsentVia.IN_PERSON, ConsentVia.IN_PERSON.label), (ConsentVia.PHONE, ConsentVia.PHONE.label)],
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        error_messages={
            "required": _("Please choose how they agreed: in person or by phone."),
            "invalid_choice": _("Please choose how they agreed: in person or by phone."),
        },
    )
    read_aloud = forms.BooleanField(
        label=_("I read these exact words to them and they said yes."),
        error_messages={"required": _("Please read the words to them first, then tick this box.")},
    )


class TextQuestionForm(forms.Form):
    """The family's answer to "Can we text you reminders?" after logging in."""

    answer = forms.ChoiceField(
        choices=[("yes", "yes"), ("not_now", "not now")],
        error_messages={
            "required": _("Please choose Yes or Not now."),
            "invalid_choice": _("Please choose Yes or Not now."),
        },
    )


def _any(label: str, choices: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [("", label), *choices]


class OutboxFilterForm(forms.Form):
    """The outbox's filters, from the query string: anything unknown is refused with a message."""

    channel = forms.ChoiceField(label=_("Channel"), required=False, choices=_any(_("All"), Channel.choices))
    kind = forms.ChoiceField(label=_("Kind"), required=False, choices=_any(_("All"), Kind.choices))
    status = forms.ChoiceField(label=_("Status"), required=False, choices=_any(_("All"), Status.choices))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.error_messages["invalid_choice"] = _("This choice is not on the list, so everything is shown.")

    def apply(self, rows: Any) -> Any:
        data = self.cleaned_data
        if data["channel"]:
            rows = rows.filter(channel=data["channel"])
        if data["kind"]:
            rows = rows.filter(reminder__kind=data["kind"])
        if data["status"]:
            rows = rows.filter(reminder__status=data["status"])
        return rows
