"""The bookings dashboard's forms. Dates and times are wall-clock values in the workspace's time
zone: `wall_clock()` turns them into the aware datetime the services take."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django import forms

from bookings.models import Booking, BookingType
from bookings.setup_services import MAX_DURATION_MINUTES
from contacts.models import Contact
from workspaces.models import User

WEEKDAYS = list(
    enumerate(("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"))
)
ANY_STAFF = ""


def wall_clock(day: date, at: time, tz: str) -> datetime:
    """The moment a clock on the wall in `tz` shows `at` on `day`."""
    return datetime.combine(day, at, tzinfo=ZoneInfo(tz))


def member_label(user) -> str:
    return user.name or user.email


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%H:%M")


class MemberChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return member_label(obj)


class MembersField(forms.ModelMultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def label_from_instance(self, obj) -> str:
        return member_label(obj)


# --- The schedule ---------------------------------------------------------------------------


class BookingFilterForm(forms.Form):
    staff = forms.TypedChoiceField(label="Staff", coerce=int, empty_value=None, required=False)
    status = forms.ChoiceField(
        label="Status", choices=[("", "Any status"), *Booking.Status.choices], required=False
    )

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["staff"].choices = [("", "Everyone")] + [
            (m.pk, member_label(m)) for m in members
        ]

    def filters(self) -> dict:
        """The valid filters; an invalid choice is ignored, as if not given."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {key: data[key] for key in ("staff", "status") if data.get(key)}


# --- One booking ----------------------------------------------------------------------------


class WhenForm(forms.Form):
    """A start (date and time on the workspace's clock) and a calendar."""

    date = forms.DateField(label="Date", widget=DateInput)
    time = forms.TimeField(label="Time", widget=TimeInput)

    def start(self, tz: str) -> datetime:
        return wall_clock(self.cleaned_data["date"], self.cleaned_data["time"], tz)


class BookingNewForm(WhenForm):
    contact = forms.ModelChoiceField(
        label="Client", queryset=Contact.objects.none(), empty_label="Choose a client"
    )
    booking_type = forms.ModelChoiceField(
        label="Service", queryset=BookingType.objects.none(), empty_label="Choose a service"
    )
    staff = MemberChoiceField(
        label="With", queryset=None, required=False, empty_label="Anyone available"
    )
    notes = forms.CharField(label="Notes", required=False, widget=forms.Textarea(attrs={"rows": 2}))

    field_order = ["contact", "booking_type", "staff", "date", "time", "notes"]

    def __init__(self, *args, workspace, booking_types, members, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contact"].queryset = Contact.objects.for_workspace(workspace).order_by(
            "name", "email", "pk"
        )
        self.fields["booking_type"].queryset = booking_types
        self.fields["staff"].queryset = members


class BookingRescheduleForm(WhenForm):
    staff = MemberChoiceField(
        label="With", queryset=None, required=False, empty_label="Keep as it is"
    )

    def __init__(self, *args, members: list, **kwargs):
        super().__init__(*args, **kwargs)
        if members:
            self.fields["staff"].queryset = User.objects.filter(pk__in=[m.pk for m in members])
            self.fields["staff"].choices = [("", "Keep as it is")] + [
                (m.pk, member_label(m)) for m in members
            ]
        else:  # the shared calendar's type: nobody to choose
            del self.fields["staff"]


# --- Owner settings -------------------------------------------------------------------------


class BookingTypeForm(forms.ModelForm):
    """Validates the fields; the setup service saves them (never form.save())."""

    staff = MembersField(
        label="Who delivers it",
        queryset=None,
        required=False,
        help_text="Each gets their own calendar. None: the workspace's shared calendar.",
    )
    video_link = forms.URLField(label="Video link", required=False, assume_scheme="https")
    # The model's check constraint, said on the field.
    duration_minutes = forms.IntegerField(
        label="Duration (minutes)", min_value=1, max_value=MAX_DURATION_MINUTES, initial=60
    )

    class Meta:
        model = BookingType
        fields = [
            "name",
            "slug",
            "description",
            "duration_minutes",
            "buffer_before_minutes",
            "buffer_after_minutes",
            "location",
            "video_link",
            "price_display",
            "is_active",
            "staff",
            "min_notice_minutes",
            "horizon_days",
            "slot_interval_minutes",
            "cancel_cutoff_hours",
            "reschedule_cutoff_hours",
        ]
        labels = {
            "buffer_before_minutes": "Buffer before (minutes)",
            "buffer_after_minutes": "Buffer after (minutes)",
            "price_display": "Price",
            "is_active": "Clients can book it",
            "min_notice_minutes": "Minimum notice (minutes)",
            "horizon_days": "Bookable ahead (days)",
            "slot_interval_minutes": "Start times every (minutes)",
            "cancel_cutoff_hours": "Online cancelling closes (hours before)",
            "reschedule_cutoff_hours": "Online rescheduling closes (hours before)",
        }
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, members, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["staff"].queryset = members
        self.fields["slug"].help_text = "The booking page's address: letters, digits, dashes."
        self.fields["slug"].required = False
        self.fields["slug"].help_text += " Empty: made from the name."

    def validate_unique(self):
        pass  # the service checks the slug in the workspace, which the form does not know

    def service_arguments(self) -> dict:
        data = dict(self.cleaned_data)
        data["staff"] = list(data["staff"])
        return data


class CalendarChoiceForm(forms.Form):
    """Whose availability the page shows: the shared calendar ("") or a staff member's."""

    calendar = forms.TypedChoiceField(
        label="Calendar", coerce=int, empty_value=None, required=False
    )

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["calendar"].choices = [("", "Shared calendar")] + [
            (m.pk, member_label(m)) for m in members
        ]


class WorkingHoursForm(forms.Form):
    weekday = forms.TypedChoiceField(label="Day", coerce=int, choices=WEEKDAYS)
    start_time = forms.TimeField(label="From", widget=TimeInput)
    end_time = forms.TimeField(label="To", widget=TimeInput)

    def clean(self):
        data = super().clean()
        start, end = data.get("start_time"), data.get("end_time")
        if start and end and end <= start:
            self.add_error("end_time", "End after the start.")
        return data


class OverrideForm(forms.Form):
    date = forms.DateField(label="Date", widget=DateInput)
    closed = forms.BooleanField(label="Closed all day", required=False)
    start_time = forms.TimeField(label="From", widget=TimeInput, required=False)
    end_time = forms.TimeField(label="To", widget=TimeInput, required=False)
    note = forms.CharField(label="Note", max_length=200, required=False)

    def clean(self):
        data = super().clean()
        start, end = data.get("start_time"), data.get("end_time")
        if data.get("closed"):
            data["start_time"] = data["end_time"] = None
        elif not self.errors:
            if start is None:
                self.add_error("start_time", "Give the opening times, or tick Closed all day.")
            if end is None:
                self.add_error("end_time", "Give the opening times, or tick Closed all day.")
            if start and end and end <= start:
                self.add_error("end_time", "End after the start.")
        return data
