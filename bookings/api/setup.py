"""REST API of a workspace's booking setup: booking types (the services clients book), weekly
working hours and date overrides. Owners write; staff read."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from bookings import setup_services
from bookings.models import AvailabilityOverride, BookingType, WorkingHours
from careops.schema import ErrorSerializer
from careops.tenancy import WorkspaceViewSetMixin

WRITES = ("create", "update", "partial_update", "destroy")

# --- Serializers ------------------------------------------------------------------------------


class MemberIdsField(serializers.ListField):
    """User ids in, user ids out (read from the prefetched many-to-many)."""

    child = serializers.IntegerField(min_value=1)

    def to_representation(self, manager) -> list[int]:
        return sorted(user.pk for user in manager.all())


class BookingTypeSerializer(serializers.ModelSerializer):
    slug = serializers.SlugField(
        max_length=60,
        required=False,
        allow_blank=True,
        help_text="Unique in the workspace; made from the name when left blank.",
    )
    staff = MemberIdsField(
        required=False,
        help_text="User ids of the members who deliver it, each with their own calendar. "
        "Empty: the workspace's shared calendar.",
    )

    class Meta:
        model = BookingType
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "duration_minutes",
            "buffer_before_minutes",
            "buffer_after_minutes",
            "location",
            "video_link",
            "price_display",
            "is_active",
            "min_notice_minutes",
            "horizon_days",
            "slot_interval_minutes",
            "cancel_cutoff_hours",
            "reschedule_cutoff_hours",
            "staff",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {"duration_minutes": {"min_value": 1, "max_value": 24 * 60}}


class WorkingHoursSerializer(serializers.ModelSerializer):
    staff = serializers.IntegerField(
        allow_null=True,
        required=False,
        default=None,
        source="staff_id",
        help_text="A member's user id; null: the workspace's shared calendar.",
    )
    weekday = serializers.IntegerField(min_value=0, max_value=6, help_text="0 Monday, 6 Sunday.")

    class Meta:
        model = WorkingHours
        fields = ["id", "staff", "weekday", "start_time", "end_time", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class AvailabilityOverrideSerializer(serializers.ModelSerializer):
    staff = serializers.IntegerField(
        allow_null=True,
        required=False,
        default=None,
        source="staff_id",
        help_text="A member's user id; null: the workspace's shared calendar.",
    )

    class Meta:
        model = AvailabilityOverride
        fields = [
            "id",
            "staff",
            "date",
            "start_time",
            "end_time",
            "note",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {
            "start_time": {"help_text": "Both times empty: closed all day."},
        }


# --- Views ------------------------------------------------------------------------------------


class SetupViewSet(
    WorkspaceViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Shared by the setup collections: owners write, staff read, writes go through a service."""

    owner_actions = WRITES
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_regex = "[0-9]+"
    filter_backends: list = []

    # The fields a PATCH leaves as they are must still reach the service, which checks the
    # whole period: a partial update is the instance's values overlaid with the request's.
    service_fields: tuple[str, ...] = ()

    def save(self, data: dict, instance=None):
        raise NotImplementedError

    def with_current(self, data: dict, instance) -> dict:
        current = {f: getattr(instance, f) for f in self.service_fields} if instance else {}
        return {**current, **data}

    def create(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        instance = self.save(serializer.validated_data)
        return Response(self.get_serializer(instance).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        instance = self.save(serializer.validated_data, instance)
        return Response(self.get_serializer(instance).data)


@extend_schema(tags=["booking setup"])
@extend_schema_view(
    destroy=extend_schema(
        responses={
            204: None,
            409: OpenApiResponse(
                ErrorSerializer,
                description="`conflict`: the service has bookings; deactivate it instead.",
            ),
        }
    )
)
class BookingTypeViewSet(SetupViewSet):
    """The services clients can book. Deleting one that has bookings answers 409: deactivate
    it (`is_active: false`) instead."""

    queryset = BookingType.objects.none()
    serializer_class = BookingTypeSerializer

    def scoped_queryset(self) -> QuerySet[BookingType]:
        return (
            BookingType.objects.for_workspace(self.request.workspace)
            .prefetch_related("staff")
            .order_by("name", "pk")
        )

    def save(self, data: dict, instance=None) -> BookingType:
        data = dict(data)
        staff_ids = data.pop("staff", None)
        return setup_services.booking_type_save(
            workspace=self.request.workspace,
            booking_type=instance,
            staff_ids=staff_ids,
            **data,
        )

    def perform_destroy(self, instance: BookingType) -> None:
        setup_services.booking_type_delete(booking_type=instance)


@extend_schema(tags=["booking setup"])
class WorkingHoursViewSet(SetupViewSet):
    """Weekly open periods of each calendar, wall-clock times in the workspace's time zone."""

    queryset = WorkingHours.objects.none()
    serializer_class = WorkingHoursSerializer
    service_fields = ("staff_id", "weekday", "start_time", "end_time")

    def scoped_queryset(self) -> QuerySet[WorkingHours]:
        return WorkingHours.objects.for_workspace(self.request.workspace).order_by(
            "staff_id", "weekday", "start_time", "pk"
        )

    def save(self, data: dict, instance=None) -> WorkingHours:
        return setup_services.working_hours_save(
            workspace=self.request.workspace, hours=instance, **self.with_current(data, instance)
        )


@extend_schema(tags=["booking setup"])
class AvailabilityOverrideViewSet(SetupViewSet):
    """Dates that differ from the week: closed, or open at other times."""

    queryset = AvailabilityOverride.objects.none()
    serializer_class = AvailabilityOverrideSerializer
    service_fields = ("staff_id", "date", "start_time", "end_time", "note")

    def scoped_queryset(self) -> QuerySet[AvailabilityOverride]:
        return AvailabilityOverride.objects.for_workspace(self.request.workspace).order_by(
            "date", "start_time", "pk"
        )

    def save(self, data: dict, instance=None) -> AvailabilityOverride:
        return setup_services.availability_override_save(
            workspace=self.request.workspace,
            override=instance,
            **self.with_current(data, instance),
        )


urlpatterns: list = []


def register(router) -> None:
    router.register("booking-types", BookingTypeViewSet, basename="booking-type")
    router.register("working-hours", WorkingHoursViewSet, basename="working-hours")
    router.register(
        "availability-overrides", AvailabilityOverrideViewSet, basename="availability-override"
    )
