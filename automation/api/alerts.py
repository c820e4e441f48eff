"""REST API of alerts: what staff should act on (automation.alerts.catalogue), and
acknowledging one. Owners see every kind; staff all but the owners' (failing providers)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from automation.alerts import alert_acknowledge, alert_area, alert_kinds_visible
from automation.models import Alert
from automation.selectors import alerts_for_workspace
from careops.errors import Forbidden
from careops.pagination import PageNumberPagination
from careops.serializers import QueryParamsSerializer
from careops.tenancy import WorkspaceViewSetMixin, area_denial
from workspaces.api import UserBriefSerializer

# --- Serializers ------------------------------------------------------------------------------


class AlertSerializer(serializers.ModelSerializer):
    acknowledged_by = UserBriefSerializer(read_only=True, allow_null=True)
    is_open = serializers.BooleanField(read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "kind",
            "severity",
            "subject_type",
            "subject_id",
            "message",
            "url",
            "is_open",
            "created_at",
            "acknowledged_at",
            "acknowledged_by",
            "resolved_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "subject_type": {
                "help_text": "`conversation`, `booking`, `form_submission`, `inventory_item` "
                "or `integration`."
            },
            "url": {"help_text": "The page where the work is (a path on the dashboard)."},
            "resolved_at": {
                "help_text": "When the cause went away (the message answered, the booking "
                "confirmed, the form came in, the item restocked, the provider working again)."
            },
        }


class AlertFilterSerializer(QueryParamsSerializer):
    open = serializers.BooleanField(
        required=False,
        default=True,
        help_text="true (default): the open alerts; false: the acknowledged or resolved ones.",
    )
    kind = serializers.ChoiceField(choices=Alert.Kind.choices, required=False)


# --- Views ------------------------------------------------------------------------------------


@extend_schema(tags=["automation"])
class AlertViewSet(WorkspaceViewSetMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Alerts for staff, newest first: one open alert per subject and kind."""

    queryset = Alert.objects.none()
    serializer_class = AlertSerializer
    pagination_class = PageNumberPagination
    lookup_value_regex = "[0-9]+"
    filter_backends: list = []

    def scoped_queryset(self) -> QuerySet[Alert]:
        return alerts_for_workspace(
            workspace=self.request.workspace,
            is_open=None,
            kinds=alert_kinds_visible(self.request.membership),
        )

    @extend_schema(parameters=[AlertFilterSerializer])
    def list(self, request):
        filters = AlertFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        alerts = alerts_for_workspace(
            workspace=request.workspace,
            is_open=data["open"],
            kind=data.get("kind"),
            kinds=alert_kinds_visible(request.membership),
        )
        page = self.paginate_queryset(alerts)
        return self.get_paginated_response(AlertSerializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(AlertSerializer(self.get_object()).data)

    @extend_schema(
        request=None,
        responses={200: AlertSerializer},
        description="Staff saw it and act on it: it leaves the open list. Acknowledging again "
        "changes nothing. A new occurrence of the cause raises a new alert.",
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        alert = self.get_object()
        denial = area_denial(request.membership, alert_area(alert.kind), request.method)
        if denial is not None:
            raise Forbidden(denial)
        alert = alert_acknowledge(alert=alert, actor=request.user)
        return Response(AlertSerializer(alert).data)
