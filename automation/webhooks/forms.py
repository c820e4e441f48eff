"""Forms of the owner's webhook pages: they parse input; automation.webhooks.services holds the
rules (which URLs, which events, the secret)."""

from __future__ import annotations

from django import forms

from automation.webhooks.events import WEBHOOK_EVENT_CHOICES
from automation.webhooks.services import SECRET_MAX_LENGTH, URL_MAX_LENGTH


class WebhookEndpointForm(forms.Form):
    url = forms.CharField(
        label="URL",
        max_length=URL_MAX_LENGTH,
        required=False,  # the service says what a target must be
        help_text="Where CareOps sends the events: an https address on the internet.",
        widget=forms.URLInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    events = forms.MultipleChoiceField(
        label="Events",
        choices=WEBHOOK_EVENT_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    description = forms.CharField(label="Description", max_length=200, required=False)

    @classmethod
    def for_endpoint(cls, endpoint, data=None) -> WebhookEndpointForm:
        initial = {
            "url": endpoint.url,
            "events": endpoint.events,
            "description": endpoint.description,
        }
        return cls(data, initial=initial)


class WebhookEndpointNewForm(WebhookEndpointForm):
    secret = forms.CharField(
        label="Signing secret",
        max_length=SECRET_MAX_LENGTH,
        required=False,
        help_text="Leave it empty to have one made. You see it once, after saving.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
