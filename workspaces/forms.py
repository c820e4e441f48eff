"""Forms for the sign-in, sign-up and workspace pages. They parse input; services decide."""

from __future__ import annotations

import zoneinfo

from django import forms
from django.contrib.auth.forms import AuthenticationForm

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
