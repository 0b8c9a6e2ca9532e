from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.utils.translation import gettext_lazy as _

from portal.models import Language, User
from procedures.models import Guardian
from procedures.phones import display as phone_display
from procedures.phones import normalize_mobile

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
