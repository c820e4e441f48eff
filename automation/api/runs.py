"""REST API of automation's history: what each rule did about each event or reminder, and why
it did nothing (switched off, paused by a staff reply, no way to reach the contact...)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.response import Response

from automation.models import AutomationRun
from careops.pagination import PageNumberPagination
from careops.serializers import QueryParamsSerializer
from careops.tenancy import WorkspaceViewSetMixin

# --- Serializers ------------------------------------------------------------------------------


class RunContactSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="display_name")


class AutomationRunSerializer(serializers.ModelSerializer):
    rule_kind = serializers.CharField(source="rule.kind", read_only=True)
    rule_name = serializers.CharField(source="rule.get_kind_display", read_only=True)
    event_kind = serializers.CharField(source="event.kind", read_only=True, allow_null=True)
    contact = RunContactSerializer(read_only=True, allow_null=True)

    class Meta:
        model = AutomationRun
        fields = [
            "id",
            "rule",
            "rule_kind",
            "rule_name",
            "event",
            "event_kind",
            "reminder",
            "outcome",
            "reason",
            "contact",
            "booking",
            "message",
            "created_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "event": {"help_text": "The event it acted on (null for a reminder's run)."},
            "reminder": {"help_text": "The reminder it sent or skipped."},
            "message": {"help_text": "The message it queued, when it sent one."},
        }


class RunFilterSerializer(QueryParamsSerializer):
    contact = serializers.IntegerField(min_value=1, required=False, help_text="A contact's id.")
    booking = serializers.IntegerField(min_value=1, required=False, help_text="A booking's id.")
    rule = serializers.IntegerField(min_value=1, required=False, help_text="A rule's id.")
    outcome = serializers.ChoiceField(choices=AutomationRun.Outcome.choices, required=False)


# --- Views ------------------------------------------------------------------------------------


@extend_schema(tags=["automation"])
class AutomationRunViewSet(
    WorkspaceViewSetMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """What automation did, newest first: for a contact, a booking, a rule."""

    queryset = AutomationRun.objects.none()
    serializer_class = AutomationRunSerializer
    pagination_class = PageNumberPagination
    lookup_value_regex = "[0-9]+"
    filter_backends: list = []

    def scoped_queryset(self) -> QuerySet[AutomationRun]:
        return (
            AutomationRun.objects.for_workspace(self.request.workspace)
            .select_related("rule", "event", "contact")
            .order_by("-created_at", "-pk")
        )

    @extend_schema(parameters=[RunFilterSerializer])
    def list(self, request):
        filters = RunFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        lookups = {
            f"{name}_id": data[name] for name in ("contact", "booking", "rule") if name in data
        }
        if "outcome" in data:
            lookups["outcome"] = data["outcome"]
        runs = self.scoped_queryset().filter(**lookups)
        page = self.paginate_queryset(runs)
        return self.get_paginated_response(AutomationRunSerializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(AutomationRunSerializer(self.get_object()).data)
