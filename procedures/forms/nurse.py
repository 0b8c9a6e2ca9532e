"""The care team's forms: a child, a guardian, booking and changing a procedure, the list's filters."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from crispy_forms.layout import Column, Layout, Row
from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.models import Language, User
from portal.phones import normalize_mobile

from .. import services
from ..models import Location, NonexistentTime, OutcomeReason, Patient, ProcedureKind, Sedation
from . import helper_with

# Where a rule of the service fails, the form shows it next to this field.
_FIELD_FOR = {"scheduled_start": "date", "arrival_at": "arrival_time"}


def combine_local(day: dt.date, clock: dt.time, location: Location) -> dt.datetime:
    """Turn a wall-clock date and time at a location into an aware datetime.

    Raises ValidationError for a time that does not exist there (the hour
    skipped when clocks go forward).
    """
    try:
        return location.at(day, clock, strict=True)
    except NonexistentTime:
        raise forms.ValidationError(
            _("%(time)s does not exist on that day: the clocks go forward. Choose another time."),
            code="nonexistent_time",
            params={"time": clock.strftime("%H:%M")},
        ) from None
    except OverflowError:  # the first or last day of the calendar: far outside what check_times allows
        raise forms.ValidationError(_("Choose a date within the next two years."), code="out_of_range") from None


class PatientForm(forms.ModelForm):
    class Meta:
        model = Patient
        fields = ["first_name", "last_name", "date_of_birth", "mrn", "feeding", "preferred_language", "location"]
        widgets = {"date_of_birth": forms.DateInput(attrs={"type": "date"})}

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        locations = Location.objects.visible_to(user)
        self.fields["location"].queryset = locations
        if len(locations) == 1:
            self.fields["location"].initial = locations[0]
        self.helper = helper_with(_("Save child"))
        self.helper.layout = Layout(
            Row(Column("first_name"), Column("last_name")),
            Row(Column("date_of_birth"), Column("mrn")),
            Row(Column("feeding"), Column("preferred_language")),
            "location",
        )

    def clean_date_of_birth(self) -> dt.date:
        born = self.cleaned_data["date_of_birth"]
        today = timezone.localdate()
        if born > today:
            raise forms.ValidationError(_("The date of birth cannot be in the future."), code="future")
        if born < today.replace(year=today.year - 30):
            raise forms.ValidationError(_("Please check the year: this would make the child over 30."), code="too_old")
        return born

    def clean_mrn(self) -> str:
        mrn = self.cleaned_data["mrn"].strip().upper()
        if not mrn.replace("-", "").isalnum() or not mrn.isascii():
            raise forms.ValidationError(_("Use only letters, numbers and dashes."), code="invalid_mrn")
        clash = Patient.objects.filter(mrn__iexact=mrn).exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(_("A child with this MRN is already registered."), code="duplicate_mrn")
        return mrn


class GuardianForm(forms.Form):
    full_name = forms.CharField(label=_("Full name"), max_length=150)
    email = forms.EmailField(label=_("Email"), max_length=254)
    mobile_number = forms.CharField(
        label=_("Mobile number"),
        max_length=32,
        required=False,
        help_text=_("For text reminders. Include the area code."),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    relationship = forms.CharField(
        label=_("Relationship to the child"), max_length=40, required=False, help_text=_("For example: mother.")
    )
    language = forms.ChoiceField(label=_("Language for messages"), choices=Language.choices)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = helper_with(_("Add and send invitation"))

    def clean_full_name(self) -> str:
        name = " ".join(self.cleaned_data["full_name"].split())
        if not name:
            raise forms.ValidationError(_("Please enter a name."), code="required")
        return name

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def clean_mobile_number(self) -> str:
        value = self.cleaned_data["mobile_number"].strip()
        return normalize_mobile(value) if value else ""


class ProcedureForm(forms.Form):
    kind = forms.ChoiceField(label=_("Procedure"), choices=ProcedureKind.choices, initial=ProcedureKind.BOTH)
    location = forms.ModelChoiceField(label=_("Location"), queryset=Location.objects.none())
    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    start_time = forms.TimeField(
        label=_("Start time"), widget=forms.TimeInput(attrs={"type": "time"}), help_text=_("Clinic local time.")
    )
    arrival_time = forms.TimeField(
        label=_("Arrival time"),
        widget=forms.TimeInput(attrs={"type": "time"}),
        help_text=_("When the family should arrive, same day."),
    )
    sedation = forms.ChoiceField(label=_("Sedation"), choices=Sedation.choices, initial=Sedation.GENERAL)
    fasting_minimum_hours = forms.DecimalField(
        label=_("Longer fast (hours)"),
        required=False,
        min_value=Decimal("0.25"),
        max_value=Decimal("24"),
        max_digits=4,
        decimal_places=2,
        help_text=_("Only if the anesthesiologist asks for a longer fast than usual. Clear fluids are not affected."),
    )
    morning_medicines = forms.CharField(
        label=_("Medicines on the morning"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            "Which of the child's usual medicines to give that morning, with a sip of water. "
            "The family sees it as written."
        ),
    )
    # The version the nurse saw: a second submit, or a change by someone else meanwhile, is refused.
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, user: User, submit_label: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        locations = Location.objects.visible_to(user)
        self.fields["location"].queryset = locations
        self.helper = helper_with(submit_label)
        self.helper.layout = Layout(
            Row(Column("kind"), Column("sedation")),
            "location",
            Row(Column("date"), Column("arrival_time"), Column("start_time")),
            "fasting_minimum_hours",
            "morning_medicines",
            "version",
        )

    @classmethod
    def initial_for(cls, procedure: Any) -> dict[str, Any]:
        start, arrival = procedure.local_start, procedure.local_arrival
        return {
            "kind": procedure.kind,
            "location": procedure.location,
            "date": start.date(),
            "start_time": start.time().replace(tzinfo=None),
            "arrival_time": arrival.time().replace(tzinfo=None),
            "sedation": procedure.sedation,
            "fasting_minimum_hours": procedure.fasting_minimum_hours,
            "morning_medicines": procedure.morning_medicines,
            "version": procedure.version,
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        location, day = data.get("location"), data.get("date")
        start_time, arrival_time = data.get("start_time"), data.get("arrival_time")
        if not (location and day and start_time and arrival_time):
            return data
        try:
            start = combine_local(day, start_time, location)
        except forms.ValidationError as error:
            self.add_error("date" if error.code == "out_of_range" else "start_time", error)
            return data
        try:
            arrival = combine_local(day, arrival_time, location)
        except forms.ValidationError as error:
            self.add_error("arrival_time", error)
            return data
        try:
            services.check_times(start=start, arrival=arrival, now=timezone.now())
        except forms.ValidationError as error:
            for field, problems in error.error_dict.items():
                for problem in problems:
                    self.add_error(_FIELD_FOR[field], problem)
        data["scheduled_start"], data["arrival_at"] = start, arrival
        return data

    def procedure_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            key: data[key]
            for key in (
                *("kind", "location", "scheduled_start", "arrival_at", "sedation", "fasting_minimum_hours"),
                "morning_medicines",
            )
        }


def _reason_field(required: bool) -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        label=_("Why"),
        queryset=OutcomeReason.objects.none(),
        required=required,
        widget=forms.RadioSelect,
        empty_label=None,
    )


def _reason_text_field() -> forms.CharField:
    return forms.CharField(
        label=_("In a few words"),
        max_length=200,
        required=False,
        help_text=_("Only for “Other”. Shown to staff only. Do not include clinical details."),
    )


class CancelForm(forms.Form):
    outcome_reason = _reason_field(required=False)
    outcome_text = _reason_text_field()
    reason = forms.CharField(
        label=_("Note for the care team"),
        max_length=200,
        help_text=_("Shown to staff only. Do not include clinical details."),
    )

    def __init__(self, *args: Any, procedure: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["outcome_reason"].queryset = OutcomeReason.objects.for_location(procedure.location)
        self.helper = helper_with(_("Cancel procedure"))
        self.helper.inputs[0].field_classes = "btn btn-danger"


class OutcomeForm(forms.Form):
    """The day's outcome in one step: it started (at what time), or it did not happen today."""

    STARTED, CANCELLED = "started", "cancelled"
    what = forms.ChoiceField(
        label=_("What happened"),
        widget=forms.RadioSelect,
        choices=[(STARTED, _("It started")), (CANCELLED, _("Cancelled or postponed today"))],
    )
    started_time = forms.TimeField(
        label=_("Real start time"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}),
        help_text=_("Clinic local time, today. We work out whether it was on time."),
    )
    reason = _reason_field(required=False)
    reason_text = _reason_text_field()

    def __init__(self, *args: Any, procedure: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.procedure = procedure
        self.fields["reason"].queryset = OutcomeReason.objects.for_location(procedure.location)
        self.fields["reason"].help_text = _("For a late start or a cancellation.")
        self.helper = helper_with(_("Save the outcome"))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        data["started_at"] = None
        if data["what"] == self.STARTED:
            clock = data.get("started_time")
            if clock is None:
                self.add_error("started_time", _("Give the time it really started."))
                return data
            try:
                data["started_at"] = combine_local(self.procedure.local_start.date(), clock, self.procedure.location)
            except forms.ValidationError as error:
                self.add_error("started_time", error)
        return data


class ProcedureFilterForm(forms.Form):
    day = forms.DateField(label=_("Day"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    location = forms.ModelChoiceField(
        label=_("Location"),
        queryset=Location.objects.none(),
        required=False,
        empty_label=_("All my locations"),
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    q = forms.CharField(label=_("Child name or MRN"), required=False, max_length=100)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["location"]
        field.queryset = Location.objects.visible_to(user)
        # Read once: the select shows them and the page says when there are none.
        self.locations = list(field.queryset)
        field.choices = [("", field.empty_label)] + [(loc.pk, field.label_from_instance(loc)) for loc in self.locations]


class RunningLateForm(forms.Form):
    minutes = forms.IntegerField(
        label=_("Running late by (minutes)"),
        required=False,
        min_value=5,
        max_value=600,
        help_text=_("Or give the new start time below."),
    )
    new_start_time = forms.TimeField(
        label=_("New start time today"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    # The version the nurse saw: the same form sent twice is refused, not added again.
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, procedure: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {})["version"] = procedure.version
        super().__init__(*args, **kwargs)
        self.procedure = procedure
        self.helper = helper_with(_("Tell the family"))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        new_time = data.get("new_start_time")
        data["new_start"] = None
        if new_time is not None:
            try:
                data["new_start"] = combine_local(self.procedure.local_start.date(), new_time, self.procedure.location)
            except forms.ValidationError as error:
                self.add_error("new_start_time", error)
                return data
        try:
            services.running_late_shift(
                self.procedure, minutes=data.get("minutes"), new_start=data["new_start"], now=timezone.now()
            )
        except services.DayOfError as error:
            raise forms.ValidationError(str(error)) from error
        return data


class DoneForm(forms.Form):
    ended_time = forms.TimeField(
        label=_("Ended at"), widget=forms.TimeInput(attrs={"type": "time"}), help_text=_("Clinic local time, today.")
    )

    def __init__(self, *args: Any, procedure: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.procedure = procedure
        self.helper = helper_with(_("Mark as done"))

    def clean_ended_time(self) -> dt.datetime:
        clock = self.cleaned_data["ended_time"]
        now = timezone.now()
        today = timezone.localtime(now, self.procedure.location.tz).date()
        ended = combine_local(today, clock, self.procedure.location)
        try:
            services.check_done_time(self.procedure, ended_at=ended, now=now)
        except services.DayOfError as error:
            raise forms.ValidationError(str(error)) from error
        return ended
