"""The forms of the automation pages."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from automation.models import Rule

# The rules that send a message written by the owner (subject, email, SMS).
MESSAGE_KINDS = {
    Rule.Kind.WELCOME,
    Rule.Kind.BOOKING_CONFIRMATION,
    Rule.Kind.BOOKING_REMINDER,
    Rule.Kind.FORM_REMINDER,
}
# What a dry run is tried on, by rule kind: rules missing here send nothing to try.
TRY_TARGETS = {
    Rule.Kind.WELCOME: "contact",
    Rule.Kind.BOOKING_CONFIRMATION: "booking",
    Rule.Kind.BOOKING_FORMS: "booking",
    Rule.Kind.BOOKING_REMINDER: "booking",
}
# The alert rules with a timing of their own, and what it means for each.
OFFSET_LABELS = {
    Rule.Kind.MISSED_MESSAGE: "Alert after (hours of working time without a reply)",
    Rule.Kind.BOOKING_UNCONFIRMED: "Alert when still pending (hours before the start)",
}
# The service names the stored field (or the dry run's argument); the forms name theirs.
SERVICE_FIELDS = {
    "offset_minutes": "offset_hours",
    "after_sent_minutes": "after_sent_hours",
    "before_booking_minutes": "before_booking_hours",
    "contact_id": "target",
    "booking_id": "target",
}
# The form reminder's points: hours on the page, minutes in the rule.
POINT_FIELDS = {
    "after_sent_hours": "after_sent_minutes",
    "before_booking_hours": "before_booking_minutes",
}


def _hours(minutes: int) -> Decimal:
    return (Decimal(minutes) / 60).quantize(Decimal("0.01")).normalize()


class RuleForm(forms.Form):
    """A rule's settings; only the fields its kind uses are kept."""

    # Whether a text may be empty is the service's to say (rule_update names the empty one).
    subject = forms.CharField(label="Email subject", max_length=255, required=False)
    body = forms.CharField(label="Email", widget=forms.Textarea(attrs={"rows": 10}), required=False)
    sms_body = forms.CharField(
        label="Text message (SMS)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Sent instead of the email to clients who gave only a mobile number.",
    )
    offset_hours = forms.DecimalField(
        label="Send the reminder (hours before the booking)",
        max_digits=6,
        decimal_places=2,
        min_value=Decimal(0),
    )
    quiet_start = forms.TimeField(
        label="Quiet hours from",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    quiet_end = forms.TimeField(
        label="Quiet hours until",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text="No reminder goes out in this window (your workspace's clock); one that "
        "falls in it is sent when it ends. Leave both empty to send at any hour.",
    )
    email_owners = forms.BooleanField(
        label="Also email the owners",
        required=False,
        help_text="Low and critical stock alerts always show on the alerts page and the "
        "dashboard; ticked, the owners get an email too.",
    )
    inbox_owners = forms.BooleanField(
        label="Also post to the owners' inbox",
        required=False,
        help_text="Ticked, each alert also shows at the top of the owners' inbox until it is "
        "dealt with.",
    )
    # Whether a point is in range is the service's to say (rule_update names the field).
    after_sent_hours = forms.DecimalField(
        label="Remind (hours after the form was sent)",
        max_digits=6,
        decimal_places=2,
        required=False,
        help_text="Leave empty for no reminder after sending.",
    )
    before_booking_hours = forms.DecimalField(
        label="Remind (hours before its booking)",
        max_digits=6,
        decimal_places=2,
        required=False,
        help_text="For forms sent with a booking. Leave empty for no reminder before it.",
    )

    def __init__(self, *args, rule: Rule, **kwargs):
        kwargs.setdefault(
            "initial",
            {
                "subject": rule.subject,
                "body": rule.body,
                "sms_body": rule.sms_body,
                "offset_hours": _hours(rule.offset_minutes),
                "quiet_start": rule.quiet_start,
                "quiet_end": rule.quiet_end,
                "email_owners": rule.email_owners,
                "inbox_owners": rule.inbox_owners,
                **{
                    name: _hours(getattr(rule, field)) if getattr(rule, field) is not None else None
                    for name, field in POINT_FIELDS.items()
                },
            },
        )
        super().__init__(*args, **kwargs)
        keep = set()
        if rule.kind in MESSAGE_KINDS:
            keep |= {"subject", "body", "sms_body"}
        if rule.kind == Rule.Kind.BOOKING_REMINDER:
            keep |= {"offset_hours", "quiet_start", "quiet_end"}
        if rule.kind in OFFSET_LABELS:
            keep.add("offset_hours")
            self.fields["offset_hours"].label = OFFSET_LABELS[rule.kind]
        if rule.kind == Rule.Kind.STOCK_LOW:
            keep |= {"email_owners", "inbox_owners"}
        if rule.kind == Rule.Kind.FORM_REMINDER:
            keep |= {*POINT_FIELDS, "quiet_start", "quiet_end"}
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]

    def changes(self) -> dict:
        """rule_update's keyword arguments."""
        data = dict(self.cleaned_data)
        if "offset_hours" in data:
            data["offset_minutes"] = round(data.pop("offset_hours") * 60)
        for name, field in POINT_FIELDS.items():
            if name in data:
                hours = data.pop(name)
                data[field] = None if hours is None else round(hours * 60)
        return data


class TryForm(forms.Form):
    """The contact or booking a dry run is tried on, among the newest of the workspace."""

    target = forms.TypedChoiceField(coerce=int, empty_value=None)

    def __init__(self, *args, kind: str, choices: list[tuple[int, str]], **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["target"]
        field.label = "Booking" if kind == "booking" else "Contact"
        field.help_text = f"The most recent {field.label.lower()}s are listed."
        field.choices = [("", f"Choose a {field.label.lower()}"), *choices]
