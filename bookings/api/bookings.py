"""REST API of the workspace's bookings: the list, today, upcoming, one with its history,
booking, rescheduling and status changes. The public booking page's endpoints (its services,
free slots, and the anonymous POST to this collection) are in bookings.api.public."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from bookings import selectors, services
from bookings.api import public
from bookings.api.public import AwareDateTimeField
from bookings.models import Booking, BookingStatusChange, BookingType
from bookings.setup_services import member_or_none
from careops.errors import InvalidInput
from careops.pagination import KeysetPagination
from careops.serializers import QueryParamsSerializer, RowsRendered, nested, row_of
from careops.tenancy import WorkspaceViewSetMixin
from careops.throttling import ScopedRateThrottle
from contacts.api.contacts import CONTACT_BRIEF_FIELDS, ContactBriefSerializer
from contacts.models import Contact
from workspaces.api import USER_BRIEF_FIELDS, UserBriefSerializer

# --- Serializers ------------------------------------------------------------------------------


BOOKING_TYPE_BRIEF_FIELDS = ("id", "name", "slug", "duration_minutes")


class BookingTypeBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = BookingType
        fields = list(BOOKING_TYPE_BRIEF_FIELDS)
        read_only_fields = fields


class BookingSerializer(RowsRendered, serializers.ModelSerializer):
    booking_type = BookingTypeBriefSerializer(read_only=True)
    contact = ContactBriefSerializer(read_only=True)
    staff = UserBriefSerializer(
        read_only=True, allow_null=True, help_text="Null: the workspace's shared calendar."
    )

    class Meta:
        model = Booking
        fields = [
            "id",
            "booking_type",
            "contact",
            "staff",
            "start",
            "end",
            "status",
            "source",
            "notes",
            "reschedule_count",
            "status_changed_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def to_representation(self, booking: Booking | dict) -> dict:
        # Built directly rather than by the fields above (which the schema reads): a page of
        # the lists is thousands of field calls otherwise. test_api pins the two as one. The
        # lists pass rows (bookings_for_workspace(rows=True)); one booking is read as a row.
        row = booking if isinstance(booking, dict) else row_of(booking, selectors.LISTED_COLUMNS)
        datetime_representation = self.datetime_representation
        return {
            "id": row["id"],
            "booking_type": nested(row, "booking_type", BOOKING_TYPE_BRIEF_FIELDS),
            "contact": nested(row, "contact", CONTACT_BRIEF_FIELDS),
            "staff": nested(row, "staff", USER_BRIEF_FIELDS),
            "start": datetime_representation(row["start"]),
            "end": datetime_representation(row["end"]),
            "status": row["status"],
            "source": row["source"],
            "notes": row["notes"],
            "reschedule_count": row["reschedule_count"],
            "status_changed_at": datetime_representation(row["status_changed_at"]),
            "created_at": datetime_representation(row["created_at"]),
            "updated_at": datetime_representation(row["updated_at"]),
        }


class BookingStatusChangeSerializer(serializers.ModelSerializer):
    actor = UserBriefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = BookingStatusChange
        fields = ["from_status", "to_status", "actor", "note", "created_at"]
        read_only_fields = fields


class BookingDetailSerializer(BookingSerializer):
    history = serializers.SerializerMethodField()

    class Meta(BookingSerializer.Meta):
        fields = [*BookingSerializer.Meta.fields, "history"]
        read_only_fields = fields

    def to_representation(self, booking: Booking) -> dict:
        return {**super().to_representation(booking), "history": self.get_history(booking)}

    @extend_schema_field(BookingStatusChangeSerializer(many=True))
    def get_history(self, booking: Booking) -> list[dict]:
        changes = booking.history.select_related("actor").order_by("created_at", "pk")
        return BookingStatusChangeSerializer(changes, many=True).data


class StaffBookingSerializer(serializers.Serializer):
    """Staff (or an integration) book a contact of the workspace."""

    contact_id = serializers.IntegerField(min_value=1)
    booking_type = serializers.CharField(max_length=60, help_text="The type's slug or id.")
    start = AwareDateTimeField(help_text="ISO 8601 with its offset.")
    staff = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        default=None,
        help_text="A member's user id. Default: any free member who delivers the type.",
    )
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class BookingUpdateSerializer(serializers.Serializer):
    start = AwareDateTimeField(required=False, help_text="Reschedule: ISO 8601 with its offset.")
    staff = serializers.IntegerField(
        min_value=1, required=False, help_text="Reassign to this member's calendar."
    )
    notes = serializers.CharField(required=False, allow_blank=True)


class StatusChangeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Booking.Status.choices)
    note = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class DateOrDateTimeField(serializers.CharField):
    """A day (in the workspace's time zone) or an ISO 8601 date and time."""

    def to_internal_value(self, value) -> date | datetime:
        value = super().to_internal_value(value)
        try:
            # A bare date first: parse_datetime would read it as midnight UTC.
            parsed = parse_date(value) or parse_datetime(value)
        except ValueError:
            parsed = None
        if parsed is None:
            raise serializers.ValidationError(
                "Give a date (YYYY-MM-DD) or an ISO 8601 date and time.", code="invalid"
            )
        return parsed


class BookingFilterSerializer(QueryParamsSerializer):
    status = serializers.ChoiceField(choices=Booking.Status.choices, required=False)
    # "from" is a keyword: declared under another name and renamed in the fields.
    from_ = DateOrDateTimeField(
        required=False, help_text="Starting from this day (workspace time) or moment."
    )
    to = DateOrDateTimeField(
        required=False, help_text="Starting before the end of this day, or before this moment."
    )
    staff = serializers.IntegerField(min_value=1, required=False)
    contact = serializers.IntegerField(min_value=1, required=False)
    booking_type = serializers.IntegerField(min_value=1, required=False)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields

    def bounds(self, tz: zoneinfo.ZoneInfo) -> tuple[datetime | None, datetime | None]:
        """`from` and `to` as aware moments: days start at midnight in the workspace's time
        zone, and a `to` day is included whole."""
        start, end = self.validated_data.get("from"), self.validated_data.get("to")
        return _moment(start, tz), _moment(end, tz, end_of_day=True)


def _moment(value, tz, *, end_of_day: bool = False) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if end_of_day and value == date.max:
        return None  # the whole of the calendar's last day: no end (the next is no date)
    day = value + timedelta(days=1) if end_of_day else value
    return datetime.combine(day, time.min, tzinfo=tz)


class UpcomingQuerySerializer(QueryParamsSerializer):
    days = serializers.IntegerField(min_value=1, max_value=62, required=False, default=7)


# --- Views ------------------------------------------------------------------------------------

BOOKING_CREATED = PolymorphicProxySerializer(
    component_name="BookingCreated",
    serializers=[BookingDetailSerializer, public.PublicBookingResultSerializer],
    resource_type_field_name=None,
)


@extend_schema(tags=["bookings"])
class BookingViewSet(WorkspaceViewSetMixin, viewsets.GenericViewSet):
    """The workspace's bookings. Owners and staff list, book, reschedule and move them along.

    POST without a token is the public booking page's (see `create`).
    """

    queryset = Booking.objects.none()
    serializer_class = BookingSerializer
    pagination_class = KeysetPagination  # the lists grow without bound: no count, no offset
    http_method_names = ["get", "post", "patch", "head", "options"]
    lookup_value_regex = "[0-9]+"
    filter_backends: list = []  # the list's filters are BookingFilterSerializer's
    throttle_scope = "booking"  # read by ScopedRateThrottle, used for public bookings only

    def scoped_queryset(self):
        return selectors.bookings_for_workspace(workspace=self.request.workspace)

    def get_object(self) -> Booking:
        return selectors.booking_get(workspace=self.request.workspace, pk=self.kwargs["pk"])

    def _is_public_booking(self) -> bool:
        request = getattr(self, "request", None)
        user = getattr(request, "user", None)
        return self.action == "create" and not (user and user.is_authenticated)

    def get_permissions(self):
        if self._is_public_booking():
            return [AllowAny()]
        return super().get_permissions()

    def get_throttles(self):
        if self._is_public_booking():
            return [ScopedRateThrottle()]
        return super().get_throttles()

    def _detail(self, booking: Booking, status_code: int = status.HTTP_200_OK) -> Response:
        """The booking as `retrieve` shows it, read again after a write."""
        fresh = selectors.booking_get(workspace=self.request.workspace, pk=booking.pk)
        return Response(BookingDetailSerializer(fresh).data, status=status_code)

    @extend_schema(parameters=[BookingFilterSerializer])
    def list(self, request):
        filters = BookingFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        start_from, start_to = filters.bounds(zoneinfo.ZoneInfo(request.workspace.timezone))
        data = filters.validated_data
        bookings = selectors.bookings_for_workspace(
            workspace=request.workspace,
            status=data.get("status"),
            start_from=start_from,
            start_to=start_to,
            staff=data.get("staff"),
            contact=data.get("contact"),
            booking_type=data.get("booking_type"),
            rows=True,
        )
        page = self.paginate_queryset(bookings)
        return self.get_paginated_response(BookingSerializer(page, many=True).data)

    @extend_schema(
        responses={200: BookingSerializer(many=True)},
        description="Today's bookings, by start: today in the workspace's time zone.",
    )
    @action(detail=False, methods=["get"])
    def today(self, request):
        bookings = selectors.bookings_today(workspace=request.workspace, rows=True)
        page = self.paginate_queryset(bookings)
        return self.get_paginated_response(BookingSerializer(page, many=True).data)

    @extend_schema(
        parameters=[UpcomingQuerySerializer],
        responses={200: BookingSerializer(many=True)},
        description="Bookings from now to the end of the `days`-th day ahead (workspace time).",
    )
    @action(detail=False, methods=["get"])
    def upcoming(self, request):
        query = UpcomingQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        bookings = selectors.bookings_upcoming(
            workspace=request.workspace, days=query.validated_data["days"], rows=True
        )
        page = self.paginate_queryset(bookings)
        return self.get_paginated_response(BookingSerializer(page, many=True).data)

    @extend_schema(responses={200: BookingDetailSerializer})
    def retrieve(self, request, pk=None):
        return Response(BookingDetailSerializer(self.get_object()).data)

    @extend_schema(
        request=PolymorphicProxySerializer(
            component_name="BookingCreate",
            serializers=[StaffBookingSerializer, public.PublicBookingSerializer],
            resource_type_field_name=None,
        ),
        parameters=[
            OpenApiParameter(
                public.IDEMPOTENCY_HEADER,
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="Up to 100 characters. A retried request with the same key gets "
                "the booking the first one made (200) instead of a second booking.",
            )
        ],
        responses={
            201: BOOKING_CREATED,
            200: OpenApiResponse(
                BOOKING_CREATED, description="Replayed with a known Idempotency-Key."
            ),
            409: OpenApiResponse(
                description="`slot_unavailable`: the time is taken; `workspace_not_live`: the "
                "business is still setting up."
            ),
        },
        description=(
            "Signed in: book a contact of the workspace (`StaffBooking`), outside "
            "working hours too, never over another booking.\n\n"
            "Without a token: the public booking page (`PublicBooking`). The client's contact "
            "is created, or reused when the email or phone is known; the start must be one of "
            "the offered slots. Answers the booking's reference, times and the client's link "
            "to manage it, never ids. Rate limited per address."
        ),
    )
    def create(self, request):
        key = public.idempotency_key(request)
        if self._is_public_booking():
            return public.public_booking_create(request, key)
        serializer = StaffBookingSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        workspace = request.workspace
        contact = Contact.objects.for_workspace(workspace).filter(pk=data["contact_id"]).first()
        if contact is None:
            raise InvalidInput(fields={"contact_id": ["No such contact in this workspace."]})
        booking_type = public.booking_type_of(workspace, data["booking_type"], active_only=False)
        if booking_type is None:
            raise InvalidInput(fields={"booking_type": ["No such service in this workspace."]})
        booking, created = services.booking_create(
            workspace=workspace,
            booking_type=booking_type,
            contact=contact,
            start=data["start"],
            staff=member_or_none(workspace=workspace, user_id=data["staff"]),
            source=Booking.Source.API,
            actor=request.user,
            notes=data["notes"],
            idempotency_key=key,
            enforce_rules=False,
        )
        return self._detail(booking, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        request=BookingUpdateSerializer,
        responses={
            200: BookingDetailSerializer,
            409: OpenApiResponse(
                description="`slot_unavailable`: the new time is taken; `invalid_transition`: "
                "only a pending or confirmed booking can be moved."
            ),
        },
        description="Reschedule (`start`), reassign (`staff`) and edit `notes`. Staff may move "
        "a booking outside working hours, never over another booking (409 `slot_unavailable`).",
    )
    def partial_update(self, request, pk=None):
        booking = self.get_object()
        serializer = BookingUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        workspace = request.workspace
        with transaction.atomic():
            staff = member_or_none(workspace=workspace, user_id=data.get("staff"))
            start = data.get("start", booking.start)
            moved = start != booking.start or (staff is not None and staff.pk != booking.staff_id)
            if moved:
                booking = services.booking_reschedule(
                    booking=booking,
                    start=start,
                    staff=staff,
                    actor=request.user,
                    enforce_rules=False,
                )
            if "notes" in data and data["notes"] != booking.notes:
                booking.notes = data["notes"]
                booking.save(update_fields=["notes", "updated_at"])
        return self._detail(booking)

    @extend_schema(
        request=StatusChangeSerializer,
        responses={
            200: BookingDetailSerializer,
            409: OpenApiResponse(
                description="`invalid_transition`; `allowed` lists the statuses it may take."
            ),
        },
        description="Confirm, complete, cancel or mark a no-show. Transitions: pending -> "
        "confirmed or cancelled; confirmed -> completed, cancelled or no_show.",
    )
    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request, pk=None):
        booking = self.get_object()
        serializer = StatusChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        booking = services.booking_set_status(
            booking=booking,
            status=serializer.validated_data["status"],
            actor=request.user,
            note=serializer.validated_data["note"],
        )
        return self._detail(booking)


urlpatterns = [*public.urlpatterns]


def register(router) -> None:
    router.register("bookings", BookingViewSet, basename="booking")
