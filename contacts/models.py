"""Contacts: the people a business serves, one per email and one per phone in a workspace."""

from __future__ import annotations

import re

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower

from careops.models import WorkspaceOwnedModel


def normalize_email(email: str | None) -> str:
    return (email or "").strip().lower()


E164 = re.compile(r"\+[1-9][0-9]{1,14}")


def normalize_phone(phone: str | None, region: str | None = None) -> str:
    """A phone number in E.164 (+447700900123); "" for none. Raises ValidationError if bad."""
    raw = (phone or "").strip()
    if not raw:
        return ""
    try:
        parsed = phonenumbers.parse(raw, region or settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            "Enter a valid phone number, such as +44 7700 900123.", code="invalid_phone"
        ) from None
    if not phonenumbers.is_possible_number(parsed):
        raise ValidationError(
            "Enter a valid phone number, such as +44 7700 900123.", code="invalid_phone"
        )
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    # E.164 allows 15 digits, though libphonenumber calls some longer ones possible; and a
    # national trunk prefix kept after the country code ("+62 0…") reads as another number once
    # stored and read back (libphonenumber drops the 0 the second time). Both are refused, so a
    # stored number is always E.164 and always the same number.
    reread = phonenumbers.format_number(
        phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.E164
    )
    if not E164.fullmatch(e164) or reread != e164:
        raise ValidationError(
            "Enter a valid phone number, such as +44 7700 900123.", code="invalid_phone"
        )
    return e164


class Tag(WorkspaceOwnedModel):
    name = models.CharField(max_length=50)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "workspace", Lower("name"), name="contacts_tag_unique_name_per_workspace"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Contact(WorkspaceOwnedModel):
    """A client of the business. Email is stored lower-cased and phone in E.164, so that the
    unique constraints below see one person where people type the same address two ways."""

    class Source(models.TextChoices):
        CONTACT_FORM = "contact_form", "Contact form"
        BOOKING = "booking", "Booking"
        IMPORT = "import", "Import"
        MANUAL = "manual", "Added by staff"
        INBOUND_MESSAGE = "inbound_message", "Inbound message"

    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=20, blank=True, help_text="E.164, e.g. +447700900123.")
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.MANUAL)
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts")
    notes = models.TextField(blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    email_consent = models.BooleanField(default=False)
    email_consent_at = models.DateTimeField(null=True, blank=True)
    email_consent_source = models.CharField(max_length=40, blank=True)
    sms_consent = models.BooleanField(default=False)
    sms_consent_at = models.DateTimeField(null=True, blank=True)
    sms_consent_source = models.CharField(max_length=40, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "email"],
                condition=~models.Q(email=""),
                name="contacts_contact_one_per_email",
            ),
            models.UniqueConstraint(
                fields=["workspace", "phone"],
                condition=~models.Q(phone=""),
                name="contacts_contact_one_per_phone",
            ),
            models.CheckConstraint(
                condition=models.Q(email=Lower("email")), name="contacts_contact_email_lowercase"
            ),
            models.CheckConstraint(
                condition=~models.Q(name="", email="", phone=""),
                name="contacts_contact_identifiable",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    source__in=[
                        "contact_form",
                        "booking",
                        "import",
                        "manual",
                        "inbound_message",
                    ]
                ),
                name="contacts_contact_source_valid",
            ),
        ]
        indexes = [
            # The contact list, newest first.
            models.Index(fields=["workspace", "-created_at"], name="contacts_contact_ws_created"),
            # The contact list sorted by name, and name search prefixes.
            models.Index(fields=["workspace", "name"], name="contacts_contact_ws_name"),
        ]

    def __str__(self) -> str:
        return self.name or self.email or self.phone

    @property
    def display_name(self) -> str:
        return str(self)

    @property
    def first_name(self) -> str:
        return first_name_of(self.name)


def first_name_of(name: str) -> str:
    """A contact's first name as templates greet them: the first word of the name."""
    return (name.split() or [""])[0]


class ContactMerge(WorkspaceOwnedModel):
    """The record of a merge: who was folded into whom, by whom, and what moved."""

    survivor = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="merges")
    merged_contact_id = models.BigIntegerField()
    merged_snapshot = models.JSONField(help_text="The merged contact as it was.")
    moved = models.JSONField(default=dict, help_text="How many rows of each kind moved.")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "-created_at"], name="contacts_merge_ws_created"),
        ]

    def __str__(self) -> str:
        return f"#{self.merged_contact_id} into {self.survivor}"
