from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, SetPasswordForm
from django.http import HttpRequest, QueryDict
from django.utils.translation import gettext_lazy as _

from portal.phones import normalize_mobile


class LoginForm(AuthenticationForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("Email")
        self.fields["username"].widget.attrs.update({"autocomplete": "email", "inputmode": "email"})
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", _("Log in"), css_class="w-100"))


class ChoosePasswordForm(SetPasswordForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", _("Save password and log in"), css_class="w-100"))


class ResetByEmailForm(PasswordResetForm):
    """Django's reset form, but the link goes on the durable path (portal.password_reset) instead of SMTP now."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs.update({"autocomplete": "email", "inputmode": "email"})
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", _("Send me a link"), css_class="w-100"))
        self.request: HttpRequest | None = None
        self.found = False

    def save(self, *args: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
        from .password_reset import request_by_email

        self.request = request
        super().save(*args, request=request, **kwargs)
        if not self.found:
            request_by_email(user=None, request=request)

    def send_mail(
        self, subject_template_name: str, email_template_name: str, context: dict, *args: Any, **kwargs: Any
    ) -> None:
        from .password_reset import request_by_email

        self.found = True
        request_by_email(user=context["user"], request=self.request)


class ResetByTextForm(forms.Form):
    mobile_number = forms.CharField(
        label=_("Mobile number"),
        max_length=30,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel", "type": "tel"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", _("Text me a code"), css_class="w-100"))

    def clean_mobile_number(self) -> str:
        return normalize_mobile(self.cleaned_data["mobile_number"].strip())


class ResetCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code from the text"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", _("Check the code"), css_class="w-100"))

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].replace("-", " ").split())
        if len(code) != 6 or not code.isascii() or not code.isdigit():
            raise forms.ValidationError(_("Type the 6 numbers from the text, for example 123456."), code="format")
        return code


class NewPasswordForm(SetPasswordForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", _("Save new password"), css_class="w-100"))


def posted(request: HttpRequest) -> QueryDict | None:
    """The POST data of a POST request, even when empty (so the form is bound and shows its errors)."""
    return request.POST if request.method == "POST" else None
