"""The builder's Django forms: they parse what was posted; the template services decide what is
valid, and their refusals come back here as messages on the inputs."""

from __future__ import annotations

from typing import Any

from django import forms

from careops.errors import DomainError
from forms.fields import FIELD_TYPES, TEXT
from forms.models import FormTemplate
from forms.services.templates import FIELD_ERROR_PREFIX


class TemplateDetailsForm(forms.Form):
    name = forms.CharField(label="Name", required=False)
    description = forms.CharField(
        label="Description",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown to the client above the fields.",
    )
    due_hours = forms.IntegerField(
        label="Due within (hours)",
        initial=48,
        help_text="How long a client has to fill it in before it is overdue.",
    )
    is_active = forms.BooleanField(
        label="Active", required=False, initial=True, help_text="Inactive forms are kept, not sent."
    )
    booking_types = forms.TypedMultipleChoiceField(
        label="Send with bookings of",
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    # The service's names for what this form calls otherwise.
    service_names = {"booking_type_ids": "booking_types"}

    def __init__(self, *args, booking_types=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["booking_types"].choices = [(t.pk, t.name) for t in booking_types]
        if not booking_types:
            self.fields["booking_types"].help_text = "No services yet: add them under Settings."

    @classmethod
    def for_template(cls, template: FormTemplate, **kwargs) -> TemplateDetailsForm:
        initial = {
            "name": template.name,
            "description": template.description,
            "due_hours": template.due_hours,
            "is_active": template.is_active,
            "booking_types": [t.pk for t in template.booking_types.all()],
        }
        return cls(initial=initial, **kwargs)

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "description": data["description"],
            "due_hours": data["due_hours"],
            "is_active": data["is_active"],
            "booking_type_ids": data["booking_types"],
        }

    def add_service_errors(self, error: DomainError) -> None:
        for name, problems in error.fields.items():
            target = self.service_names.get(name, name)
            for problem in problems:
                self.add_error(target if target in self.fields else None, problem)
        if not error.fields:
            self.add_error(None, error.message)


class FieldForm(forms.Form):
    """One field of the form being designed (see forms/fields.py for what each part means)."""

    type = forms.ChoiceField(label="Type", choices=list(FIELD_TYPES.items()), initial=TEXT)
    label = forms.CharField(label="Label", required=False)
    key = forms.CharField(
        label="Key",
        required=False,
        help_text="Optional: made from the label. Names the answer in exports and the API.",
    )
    help_text = forms.CharField(
        label="Help text", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    required = forms.BooleanField(
        label="Required", required=False, help_text="A required checkbox is a consent."
    )
    choices = forms.CharField(
        label="Choices",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Single and multiple choice only: one per line.",
    )
    maps_to = forms.CharField(
        label="Prefill from the contact",
        required=False,
        widget=forms.TextInput(attrs={"list": "maps-to-options", "autocomplete": "off"}),
        help_text="Optional: name, email, phone, or custom.&lt;key&gt; for a custom field.",
    )

    @classmethod
    def for_field(cls, field: dict[str, Any], **kwargs) -> FieldForm:
        initial = {**field, "choices": "\n".join(field.get("choices") or [])}
        return cls(initial=initial, **kwargs)

    def definition(self) -> dict[str, Any]:
        data = self.cleaned_data
        choices = [line.strip() for line in data["choices"].splitlines() if line.strip()]
        return {
            "key": data["key"].strip(),
            "type": data["type"],
            "label": data["label"],
            "help_text": data["help_text"],
            "required": data["required"],
            "choices": choices,
            "maps_to": data["maps_to"].strip(),
        }

    def add_service_errors(self, error: DomainError) -> None:
        """The field services' messages about this field (`field.<property>`) on this form's
        inputs; any other (the whole list's, another field's) on the form itself."""
        prefix = FIELD_ERROR_PREFIX
        for name, problems in error.fields.items():
            prop = name.removeprefix(f"{prefix}.") if name.startswith(f"{prefix}.") else None
            for problem in problems:
                if prop in self.fields:
                    self.add_error(prop, problem)
                elif name in (prefix, "fields"):
                    self.add_error(None, problem)
                else:
                    self.add_error(None, f"{name}: {problem}")
        if not error.fields:
            self.add_error(None, error.message)
