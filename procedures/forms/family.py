"""The family's forms: questions to ask, and the check-in after the procedure."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from crispy_forms.layout import HTML, Column, Layout, Row
from django import forms
from django.utils.translation import gettext_lazy as _

from .. import fasting, intake
from ..aftercare import PainQuestion
from ..models import SymptomReport
from ..readiness import STANDARD_QUESTIONS
from . import helper_with


class QuestionsForm(forms.Form):
    standard = forms.MultipleChoiceField(
        label=_("Questions many families ask"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[],
    )
    own = forms.CharField(
        label=_("Add your own question"),
        required=False,
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["standard"].choices = list(STANDARD_QUESTIONS.items())
        self.helper = helper_with(_("Save my questions"))


# Plausible body temperatures; anything outside is almost surely a typing slip.
TEMPERATURE_RANGE = {"C": (Decimal("34.0"), Decimal("43.0")), "F": (Decimal("93.0"), Decimal("109.5"))}


# What the family is asked about the needle spot and the child, in the order asked.
SIGNS = ["chills", "bleeding", "redness", "swelling", "oozing", "bad_smell"]


class CheckInForm(forms.ModelForm):
    class Meta:
        model = SymptomReport
        fields = ["temperature", "temperature_unit", *SIGNS, "pain", "notes"]
        widgets = {
            "temperature": forms.NumberInput(attrs={"step": "0.1", "inputmode": "decimal"}),
            "temperature_unit": forms.RadioSelect,
            "pain": forms.RadioSelect,
            "notes": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {"temperature": _("Temperature, if you took it")}

    def __init__(self, *args: Any, pain_question: PainQuestion, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        pain = self.fields["pain"]
        # Nothing ticked until the family ticks it; left blank it reads "not answered".
        pain.label = pain_question.label
        pain.choices = [(answer.value, answer.label) for answer in pain_question.answers]
        pain.required = False
        pain.error_messages["invalid_choice"] = _("Please choose one of the answers shown, or leave it blank.")
        self.helper = helper_with(_("Send"))
        self.helper.layout = Layout(
            Row(Column("temperature", css_class="col-7"), Column("temperature_unit", css_class="col-5")),
            HTML('<p class="fw-semibold mb-1 mt-2">' + str(_("At the needle spot or in general, is there:")) + "</p>"),
            *SIGNS,
            "pain",
            "notes",
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        temperature, unit = data.get("temperature"), data.get("temperature_unit")
        if temperature is not None and unit in TEMPERATURE_RANGE:
            low, high = TEMPERATURE_RANGE[unit]
            if not low <= temperature <= high:
                self.add_error(
                    "temperature",
                    _("Please check the number and the unit (°C or °F): %(value)s °%(unit)s is not a body temperature.")
                    % {"value": temperature, "unit": unit},
                )
        return data


class IntakeForm(forms.Form):
    """When the child last had a clear drink, milk and food: a clock time each, today or last night.

    Only the lines the child's plan has a cut-off for are asked. The family and the nurse share it.
    """

    def __init__(self, *args: Any, procedure: Any, submit_label: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.procedure = procedure
        plan = procedure.fasting_plan()
        labels = {
            fasting.Intake.DRINK: _("Last clear drink at"),
            fasting.Intake.MILK: _("Last milk or formula at"),
            fasting.Intake.FOOD: _("Last food at"),
        }
        for item, label in labels.items():
            if fasting.cutoff_for_intake(plan, item) is not None:
                self.fields[item.value] = forms.TimeField(
                    label=label, required=False, widget=forms.TimeInput(attrs={"type": "time"})
                )
        self.helper = helper_with(submit_label)

    def times(self, now: Any) -> dict[fasting.Intake, Any]:
        """The answers as moments: a clock time still to come today is taken as last night's."""
        return {
            item: intake.at_clock(self.procedure, self.cleaned_data[item.value], now)
            for item in fasting.Intake
            if self.cleaned_data.get(item.value) is not None
        }

    @classmethod
    def initial_for(cls, procedure: Any) -> dict[str, Any]:
        return {
            item.value: procedure.location.localize(at).time().replace(second=0, microsecond=0, tzinfo=None)
            for item, at in procedure.last_intake.items()
            if at is not None
        }
