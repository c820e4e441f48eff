"""The forms of the public booking pages: the visitor's details, and a message to the business
when it is too late to change a booking online."""

from __future__ import annotations

from datetime import UTC, datetime

from django import forms

# No page offers a slot outside these, and near the ends of the calendar the arithmetic that
# follows a start (its end, the visitor's zone) would overflow.
EARLIEST_START = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_START = datetime(3000, 1, 1, tzinfo=UTC)


def parse_start(value: str | None) -> datetime | None:
    """A chosen slot's start as the pages send it (ISO 8601 in UTC), or None when malformed."""
    try:
        moment = datetime.fromisoformat((value or "").strip())
        if moment.tzinfo is None:
            return None
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return moment if EARLIEST_START <= moment < LATEST_START else None


def format_start(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class BookingDetailsForm(forms.Form):
    """Who is booking. `website` is a honeypot: people never see it, bots fill it."""

    start = forms.CharField(widget=forms.HiddenInput)
    name = forms.CharField(
        label="Your name", max_length=200, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    email = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    phone = forms.CharField(
        label="Phone (optional)",
        required=False,
        max_length=32,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    notes = forms.CharField(
        label="Anything we should know? (optional)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    website = forms.CharField(
        label="Leave this empty",
        required=False,
        widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
    )

    def is_bot(self) -> bool:
        return bool(self.data.get("website", "").strip())

    def clean_start(self) -> datetime:
        start = parse_start(self.cleaned_data["start"])
        if start is None:
            raise forms.ValidationError("Choose a time.")
        return start


class ContactUsForm(forms.Form):
    message = forms.CharField(
        label="Your message", max_length=5000, widget=forms.Textarea(attrs={"rows": 4})
    )
