"""GET /api/v1/dashboard/stats: the owner's key figures as JSON, the same as the dashboard's."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings.models import Booking
from careops.dashboard.stats import MAX_DAYS, PERIODS, dashboard_stats, period_parse
from careops.tenancy import WorkspaceAccess

# --- Serializers (the response's shape, for the schema: the selector's dict is sent as is) ----

RATE_HELP = "A fraction from 0 to 1; null when there is nothing to divide by."


class DayCountSerializer(serializers.Serializer):
    date = serializers.DateField()
    count = serializers.IntegerField()


class DayMessagesSerializer(serializers.Serializer):
    date = serializers.DateField()
    inbound = serializers.IntegerField()
    outbound = serializers.IntegerField()


class BookingStatsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    by_status = inline_serializer(
        "BookingsByStatus",
        fields={status: serializers.IntegerField() for status in Booking.Status.values},
        help_text="Every status, zeros included.",
    )
    no_show_rate = serializers.FloatField(
        allow_null=True, help_text="No-shows / (completed + no-shows). " + RATE_HELP
    )
    per_day = DayCountSerializer(
        many=True, help_text="Every day of the period, zeros included, oldest first."
    )


class ResponseTimeSerializer(serializers.Serializer):
    median = serializers.FloatField(allow_null=True)
    average = serializers.FloatField(allow_null=True)
    answered = serializers.IntegerField()
    unanswered = serializers.IntegerField()


class MessageStatsSerializer(serializers.Serializer):
    inbound = serializers.IntegerField()
    outbound = serializers.IntegerField()
    per_day = DayMessagesSerializer(
        many=True, help_text="Every day of the period, zeros included, oldest first."
    )
    response_time_minutes = ResponseTimeSerializer(
        help_text=(
            "Minutes from a client's message to the first reply after it from staff or "
            "automation. Only the first message of a run counts (later ones before a reply "
            "waited for the same reply). Null when none was answered."
        )
    )


class FormStatsSerializer(serializers.Serializer):
    sent = serializers.IntegerField()
    completed = serializers.IntegerField()
    overdue = serializers.IntegerField(help_text="Still not in and past due, as of now.")
    completion_rate = serializers.FloatField(
        allow_null=True, help_text="Completed / sent. " + RATE_HELP
    )


class DashboardStatsSerializer(serializers.Serializer):
    period = inline_serializer(
        "StatsPeriod",
        fields={
            "from": serializers.DateField(),
            "to": serializers.DateField(help_text="Inclusive."),
            "timezone": serializers.CharField(help_text="The workspace's time zone."),
        },
    )
    computed_at = serializers.DateTimeField(
        help_text=(
            "When the figures were counted. A big workspace's figures (slow to count) are "
            "kept a minute (DASHBOARD_FIGURES_CACHE_SECONDS): they may be that old."
        )
    )
    bookings = BookingStatsSerializer(help_text="Bookings that start in the period.")
    contacts = inline_serializer(
        "ContactStats",
        fields={"new": serializers.IntegerField(help_text="Contacts added in the period.")},
    )
    messages = MessageStatsSerializer(help_text="Messages received and sent in the period.")
    forms = FormStatsSerializer(help_text="Forms sent in the period, and what became of them.")


# --- The view -------------------------------------------------------------------------------


class DashboardStatsView(APIView):
    """Owners only: the figures say how the business is doing, which staff need not see."""

    permission_classes = [WorkspaceAccess]
    owner_actions = ("*",)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "period",
                str,
                enum=list(PERIODS),
                description="The last 7, 30 (default) or 90 days, today included.",
            ),
            OpenApiParameter(
                "from",
                OpenApiTypes.DATE,
                description="With `to`: an explicit period (YYYY-MM-DD); it wins over `period`.",
            ),
            OpenApiParameter(
                "to",
                OpenApiTypes.DATE,
                description=f"Inclusive; at most {MAX_DAYS} days after `from`.",
            ),
        ],
        responses={200: DashboardStatsSerializer},
        tags=["dashboard"],
        summary="Key figures over a period",
        description=(
            "Bookings by status and day, the no-show rate, new contacts, messages in and out "
            "by day, response times, and form completion, over whole days in the workspace's "
            "time zone. Invalid parameters answer 400 naming `period`, `from` or `to`."
        ),
    )
    def get(self, request):
        workspace = request.workspace
        period = period_parse(workspace=workspace, params=request.query_params)
        return Response(dashboard_stats(workspace=workspace, period=period))
