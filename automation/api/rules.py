"""REST API of a workspace's automation rules: everyone reads them, owners switch them on and
off, edit their messages and try them without sending (dry run)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from automation import dry_run, rules
from automation.models import Rule
from bookings.models import Booking
from careops.errors import InvalidInput
from careops.tenancy import WorkspaceViewSetMixin
from contacts.models import Contact

# --- Serializers ------------------------------------------------------------------------------


class RuleSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = Rule
        fields = [
            "id",
            "kind",
            "name",
            "is_enabled",
            "subject",
            "body",
            "sms_body",
            "offset_minutes",
            "quiet_start",
            "quiet_end",
            "email_owners",
            "inbox_owners",
            "after_sent_minutes",
            "before_booking_minutes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "kind", "name", "created_at", "updated_at"]
        extra_kwargs = {
            "subject": {
                "help_text": "The email's subject, in the template language "
                "({{ contact.first_name }}); messages rules only."
            },
            "offset_minutes": {
                "help_text": "Reminders and unconfirmed-booking alerts: how long before the "
                "booking; missed-message alerts: minutes of working time without a staff reply "
                "(5 minutes to 30 days)."
            },
            "quiet_start": {
                "help_text": "Reminders: no reminder from this time (workspace time zone)…"
            },
            "quiet_end": {
                "help_text": "…until this one (the window may cross midnight; both empty: none)."
            },
            "email_owners": {
                "help_text": "Stock alerts (low and critical): also email the workspace's owners."
            },
            "inbox_owners": {
                "help_text": "Stock alerts (low and critical): also post a note to the top of "
                "the owners' inbox, closed when the alert is resolved or acknowledged."
            },
            "after_sent_minutes": {
                "help_text": "Form reminders: how long after a form is sent its client is "
                "reminded (60 minutes to 30 days; null: no such reminder).",
            },
            "before_booking_minutes": {
                "help_text": "Form reminders: how long before the form's booking its client is "
                "reminded (60 minutes to 30 days; null: no such reminder).",
            },
        }


class DryRunSerializer(serializers.Serializer):
    contact_id = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, default=None
    )
    booking_id = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        default=None,
        help_text="For the rules about a booking (confirmation, forms, reminder).",
    )


class DryRunResultSerializer(serializers.Serializer):
    would = serializers.ChoiceField(
        choices=["send", "skip", "act"],
        help_text="send: a message would go out; skip: nothing, for `reason`; act: the rule "
        "does something other than a message (`reason` says what).",
    )
    reason = serializers.CharField(allow_blank=True)
    channel = serializers.CharField(allow_blank=True, help_text="`email` or `sms`.")
    to = serializers.CharField(allow_blank=True, help_text="The address or number.")
    subject = serializers.CharField(allow_blank=True)
    body = serializers.CharField(allow_blank=True, help_text="The message as it would be sent.")
    attachments = serializers.ListField(child=serializers.CharField(), help_text="File names.")
    when = serializers.CharField(
        required=False, help_text="Reminders: when it would go out (workspace time zone)."
    )
    due_at = serializers.DateTimeField(required=False, help_text="Reminders: the same, UTC.")
    forms = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Forms: the ones it would send."
    )


# --- Views ------------------------------------------------------------------------------------


@extend_schema(tags=["automation"])
class RuleViewSet(
    WorkspaceViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Every automation of the workspace, one per kind (created with their defaults on first
    read). Owners change them; staff read them."""

    queryset = Rule.objects.none()
    serializer_class = RuleSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]
    lookup_value_regex = "[0-9]+"
    filter_backends: list = []
    # A fixed, short set: one per kind.
    pagination_class = None
    owner_actions = ("partial_update", "dry_run")

    def scoped_queryset(self):
        return Rule.objects.for_workspace(self.request.workspace).order_by("pk")

    def list(self, request):
        every = sorted(rules.rules_for(request.workspace).values(), key=lambda rule: rule.pk)
        return Response(RuleSerializer(every, many=True).data)

    @extend_schema(
        description="Owners: switch the rule on or off, edit its message texts (checked: a "
        "template error is a 400 naming the field), its reminder offset and quiet hours, "
        "whether low-stock alerts email the owners, and the form reminder's points."
    )
    def partial_update(self, request, pk=None):
        rule = self.get_object()
        serializer = RuleSerializer(rule, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        rule = rules.rule_update(rule=rule, actor=request.user, **serializer.validated_data)
        return Response(RuleSerializer(rule).data)

    @extend_schema(
        request=DryRunSerializer,
        responses={
            200: DryRunResultSerializer,
            400: OpenApiResponse(
                description="`validation_error`: an unknown contact or booking, or the rule "
                "needs one that was not given."
            ),
        },
        description="Owners: what the rule would do now for this contact or booking (the "
        "message rendered, to whom, on which channel, or why it would skip), without sending "
        "or recording anything.",
    )
    @action(detail=True, methods=["post"], url_path="dry-run")
    def dry_run(self, request, pk=None):
        rule = self.get_object()
        serializer = DryRunSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        contact = booking = None
        if data["contact_id"] is not None:
            contact = (
                Contact.objects.for_workspace(request.workspace)
                .filter(pk=data["contact_id"])
                .first()
            )
            if contact is None:
                raise InvalidInput(fields={"contact_id": ["No such contact in this workspace."]})
        if data["booking_id"] is not None:
            booking = (
                Booking.objects.for_workspace(request.workspace)
                .select_related("booking_type", "contact", "staff")
                .filter(pk=data["booking_id"])
                .first()
            )
            if booking is None:
                raise InvalidInput(fields={"booking_id": ["No such booking in this workspace."]})
        result = dry_run.rule_dry_run(rule=rule, contact=contact, booking=booking)
        return Response(DryRunResultSerializer(result).data)
