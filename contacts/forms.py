"""Forms of the contacts pages: they parse input; the services hold the rules."""

from __future__ import annotations

from django import forms

from contacts.csv_import import MAX_BYTES, MAX_ROWS
from contacts.models import Contact


class ContactFilterForm(forms.Form):
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Name, email or phone", "autocomplete": "off"}
        ),
    )
    tag = forms.ChoiceField(label="Tag", required=False)
    source = forms.ChoiceField(
        label="Source", required=False, choices=[("", "Any source"), *Contact.Source.choices]
    )

    def __init__(self, *args, tags=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tag"].choices = [("", "Any tag"), *((t.name, t.name) for t in tags)]

    def filters(self) -> dict[str, str]:
        """The filters to apply: the valid ones (a stale tag in a bookmark filters nothing)."""
        if not self.is_bound:
            return {"q": "", "tag": "", "source": ""}
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {name: data.get(name) or "" for name in ("q", "tag", "source")}


class ContactForm(forms.Form):
    """A contact's details as staff type them; contact_create/contact_update check them."""

    name = forms.CharField(label="Name", required=False, max_length=200)
    email = forms.CharField(
        label="Email", required=False, widget=forms.EmailInput(attrs={"autocomplete": "off"})
    )
    phone = forms.CharField(
        label="Phone",
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
        help_text="With the country code for numbers abroad, e.g. +1 202 555 0143.",
    )
    tags = forms.CharField(label="Tags", required=False, help_text="Separate tags with commas.")
    notes = forms.CharField(label="Notes", required=False, widget=forms.Textarea(attrs={"rows": 4}))
    email_consent = forms.BooleanField(label="Agrees to receive email", required=False)
    sms_consent = forms.BooleanField(label="Agrees to receive text messages", required=False)

    @classmethod
    def for_contact(cls, contact: Contact, data=None) -> ContactForm:
        initial = {
            "name": contact.name,
            "email": contact.email,
            "phone": contact.phone,
            "tags": ", ".join(tag.name for tag in contact.tags.all()),
            "notes": contact.notes,
            "email_consent": contact.email_consent,
            "sms_consent": contact.sms_consent,
        }
        return cls(data, initial=initial)

    def clean_tags(self) -> list[str]:
        return [name.strip() for name in self.cleaned_data["tags"].split(",") if name.strip()]


class ContactImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
        help_text=(
            f"UTF-8, at most {MAX_ROWS:,} rows and {MAX_BYTES // 2**20} MB. The first row names "
            "the columns: name (or first_name and last_name), email, phone, tags (separated by "
            "; or |), notes, email_consent, sms_consent. Other columns become custom fields."
        ),
    )


class PublicContactForm(forms.Form):
    """The form a business shares. `website` is a honeypot: people never see it, bots fill it."""

    name = forms.CharField(label="Your name", max_length=200, required=False)
    email = forms.CharField(
        label="Email", required=False, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    phone = forms.CharField(
        label="Phone",
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    message = forms.CharField(
        label="Message", max_length=5000, widget=forms.Textarea(attrs={"rows": 5})
    )
    email_consent = forms.BooleanField(label="You may email me", required=False)
    sms_consent = forms.BooleanField(label="You may text me", required=False)
    website = forms.CharField(
        label="Leave this empty",
        required=False,
        widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
    )

    def is_bot(self) -> bool:
        return bool(self.data.get("website", "").strip())
