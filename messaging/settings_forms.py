"""Forms of the owner's messaging settings: they parse input; the services hold the rules
(which provider needs which credentials, what a sender address looks like, the template
sandbox)."""

from __future__ import annotations

from django import forms

from careops.errors import DomainError, InvalidInput
from careops.forms import add_domain_errors
from messaging.models import Channel
from messaging.providers import ProviderSpec

CREDENTIAL_LABELS = {
    "api_key": "API key",
    "sender_domain": "Sending domain",
    "account_sid": "Account SID",
    "auth_token": "Auth token",
    "api_url": "API URL",
    "api_base_url": "API base URL",
}
# Postmark calls its key a server token: say it the way its console does.
PROVIDER_LABELS = {("postmark", "api_key"): "Server token"}
CREDENTIAL_HELP = {
    "sender_domain": "The domain you verified at Mailgun, e.g. mg.example.com.",
    "api_url": "Only to send through another region or a test server.",
    "api_base_url": "Only to send through a test server.",
}
# Typed into password inputs and never written back into a page, not even after an error.
SECRET_CREDENTIALS = frozenset({"api_key", "auth_token"})
CHANNEL_WORDS = {Channel.EMAIL: "email", Channel.SMS: "SMS"}


def credential_label(provider: str, key: str) -> str:
    return PROVIDER_LABELS.get((provider, key)) or CREDENTIAL_LABELS.get(key, key)


class ProviderChoiceForm(forms.Form):
    """The provider select at the top of the "add a provider" page (a GET form)."""

    provider = forms.ChoiceField(label="Provider")

    def __init__(self, *args, providers: list[ProviderSpec], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = [("", "Choose a provider")] + [
            (spec.key, f"{spec.label} ({CHANNEL_WORDS.get(spec.channel, 'email or SMS')})")
            for spec in providers
        ]


class IntegrationForm(forms.Form):
    """One provider's account: its credential fields follow the provider's spec."""

    provider = forms.CharField(widget=forms.HiddenInput)
    channel = forms.ChoiceField(label="Channel", choices=Channel.choices, required=False)
    from_address = forms.CharField(label="Send from", max_length=254, required=False)
    priority = forms.IntegerField(
        label="Place in the order",
        required=False,
        help_text="1 is tried first. Leave blank to add it after the others.",
    )

    def __init__(self, *args, spec: ProviderSpec, **kwargs):
        kwargs.setdefault("initial", {})["provider"] = spec.key
        super().__init__(*args, **kwargs)
        self.spec = spec
        if spec.channel:
            del self.fields["channel"]
        self.fields["from_address"].label, self.fields["from_address"].help_text = {
            Channel.EMAIL: ("Send from", "The email address your clients see, e.g. hello@…"),
            Channel.SMS: ("Send from", "Your number at the provider, e.g. +447700900123."),
        }.get(spec.channel, ("Send from", "An email address, or a number like +447700900123."))
        self.fields["from_address"].widget.attrs.update(
            {"inputmode": "tel"} if spec.channel == Channel.SMS else {"inputmode": "email"}
        )
        for key in (*spec.required, *spec.optional):
            widget = (
                forms.PasswordInput(attrs={"autocomplete": "new-password"})
                if key in SECRET_CREDENTIALS
                else forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"})
            )
            self.fields[key] = forms.CharField(
                label=credential_label(spec.key, key),
                required=False,  # the service says which ones the provider needs
                help_text=CREDENTIAL_HELP.get(key, ""),
                widget=widget,
            )

    def main_fields(self) -> list[forms.BoundField]:
        names = ["channel", *self.spec.required, "from_address"]
        return [self[name] for name in names if name in self.fields]

    def advanced_fields(self) -> list[forms.BoundField]:
        return [self["priority"], *(self[key] for key in self.spec.optional)]

    def advanced_has_errors(self) -> bool:
        return any(field.errors for field in self.advanced_fields())

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        keys = (*self.spec.required, *self.spec.optional)
        return {
            "provider": self.spec.key,
            "channel": data.get("channel") or None,
            "credentials": {key: data[key] for key in keys if data.get(key)},
            "from_address": data["from_address"],
            "priority": data["priority"],
        }

    def add_service_errors(self, error: DomainError) -> None:
        """The service names credential fields "credentials.<key>": show each on its input."""
        fields = {
            name.removeprefix("credentials."): problems for name, problems in error.fields.items()
        }
        add_domain_errors(self, InvalidInput(error.message, fields=fields))


class IntegrationTestForm(forms.Form):
    to = forms.CharField(
        label="Text this number",
        required=False,
        widget=forms.TextInput(
            attrs={"type": "tel", "inputmode": "tel", "placeholder": "+447700900123"}
        ),
    )


class MessageTemplateForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100, required=False)
    channel = forms.ChoiceField(
        label="Channel",
        required=False,
        choices=[("", "Email or SMS"), *Channel.choices],
    )
    subject = forms.CharField(
        label="Subject (email)", max_length=255, required=False, help_text="Email only."
    )
    body = forms.CharField(
        label="Message",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Use {{ contact.first_name }}, {{ workspace.name }}, {{ booking.date }}, "
        "{{ link }}… and tags such as {% if %}.",
    )

    @classmethod
    def for_template(cls, template, data=None) -> MessageTemplateForm:
        initial = {key: getattr(template, key) for key in ("name", "channel", "subject", "body")}
        return cls(data, initial=initial)
