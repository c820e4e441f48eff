"""Forms for the sign-in, sign-up and workspace pages. They parse input; services decide."""

from __future__ import annotations

import zoneinfo

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from workspaces.models import Access, Area, Membership, validate_phone

COMMON_TIMEZONES = sorted(zoneinfo.available_timezones() - {"localtime", "Factory"})


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Email or password is incorrect.",
    }


class WorkspaceForm(forms.Form):
    workspace_name = forms.CharField(label="Business name", max_length=120)
    timezone = forms.ChoiceField(
        label="Time zone", choices=[(tz, tz) for tz in COMMON_TIMEZONES], initial="UTC"
    )


class SignupForm(WorkspaceForm):
    name = forms.CharField(label="Your name", max_length=150)
    email = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = forms.CharField(
        label="Password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    field_order = ["name", "email", "password", "workspace_name", "timezone"]


class InvitedSignupForm(forms.Form):
    name = forms.CharField(label="Your name", max_length=150)
    password = forms.CharField(
        label="Password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )


class WorkspaceDetailsForm(forms.Form):
    """The wizard's first step. Only the name is needed to save: the rest can come later, and
    the onboarding check says what is still missing."""

    name = forms.CharField(label="Business name", max_length=120)
    timezone = forms.ChoiceField(
        label="Time zone",
        choices=[(tz, tz) for tz in COMMON_TIMEZONES],
        help_text="Times on your pages, messages and calendars are shown in it.",
    )
    contact_email = forms.EmailField(
        label="Contact email",
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        help_text="Where clients write to you. An email or a phone number is needed.",
    )
    contact_phone = forms.CharField(
        label="Contact phone",
        max_length=32,
        required=False,
        validators=[validate_phone],
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    address = forms.CharField(
        label="Address",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "street-address"}),
    )


def _access_field(area: Area) -> forms.ChoiceField:
    # Not required: an area left out keeps its level (a new invitation's: view and act).
    return forms.ChoiceField(
        label=area.label, choices=Access.choices, initial=Access.ACT, required=False
    )


class AreaAccessForm(forms.Form):
    """A staff member's level in each area (their own, or an invitation's defaults)."""

    inbox_access = _access_field(Area.INBOX)
    bookings_access = _access_field(Area.BOOKINGS)
    forms_access = _access_field(Area.FORMS)
    inventory_access = _access_field(Area.INVENTORY)

    def access(self) -> dict[str, str]:
        """The levels given, by area (the areas left out are not named)."""
        levels = {area: self.cleaned_data.get(f"{area}_access") for area in Area.values}
        return {area: level for area, level in levels.items() if level}


class InvitationForm(AreaAccessForm):
    email = forms.EmailField(label="Email", widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    role = forms.ChoiceField(
        label="Role",
        choices=Membership.Role.choices,
        initial=Membership.Role.STAFF,
        help_text="Owners have every area and the settings; staff have the areas chosen below.",
    )

    field_order = ["email", "role"]
