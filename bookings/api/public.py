"""The public side of the booking page in the API: its services, their free slots, and the
anonymous POST /bookings that books one (BookingViewSet hands it here). No sign-in; nothing of
the workspace beyond what its booking page shows."""

from __future__ import annotations

import base64
import contextlib
import zoneinfo
from datetime import date, datetime, timedelta

from django.conf import settings
from django.urls import NoReverseMatch, path, reverse
from django.utils.crypto import salted_hmac
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status, views
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from bookings import selectors, services
from bookings.availability import available_slots
from bookings.models import Booking, BookingType
from bookings.setup_services import member_or_none
from careops import rls
from careops.errors import InvalidInput, NotFound
from careops.schema import ErrorSerializer
from careops.serializers import QueryParamsSerializer
from workspaces.models import Workspace

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX_LENGTH = 100
SLOTS_MAX_DAYS = 62

# --- Fields and small helpers -----------------------------------------------------------------


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date and time that names its offset: a booking's moment is never guessed."""

    def to_internal_value(self, value):
        if isinstance(value, str):
            parsed = None
            with contextlib.suppress(ValueError):  # out-of-range parts: DRF says why below
                parsed = parse_datetime(value.strip())
            if parsed is not None and parsed.tzinfo is None:
                raise serializers.ValidationError(
                    "Give the offset too, e.g. 2026-03-02T09:00:00+01:00.", code="naive"
                )
        return super().to_internal_value(value)


def booking_type_of(workspace, value: str, *, active_only: bool) -> BookingType | None:
    """The workspace's booking type named by its slug or its id."""
    types = BookingType.objects.for_workspace(workspace).select_related("workspace")
    if active_only:
        types = types.filter(is_active=True)
    value = str(value).strip()
    if value.isdigit():
        return types.filter(pk=int(value)).first()
    return types.filter(slug=value).first()


def workspace_by_slug(slug: str) -> Workspace:
    """The workspace behind a public endpoint: 404 when there is none, 409 `workspace_not_live`
    while its owner is still setting it up."""
    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is None:
        raise NotFound()
    workspace.check_accepting_clients()
    rls.narrow(workspace.pk)
    return workspace


def idempotency_key(request) -> str:
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
        raise InvalidInput(
            fields={IDEMPOTENCY_HEADER: [f"Use at most {IDEMPOTENCY_KEY_MAX_LENGTH} characters."]}
        )
    return key


def booking_reference(booking: Booking) -> str:
    """What the client quotes for their booking: stable, short, and not the sequential id."""
    digest = salted_hmac("careops.bookings.reference", str(booking.pk)).digest()
    return base64.b32encode(digest[:5]).decode()


def booking_manage_url(booking: Booking) -> str:
    try:
        path_ = reverse("booking-manage", args=[services.booking_manage_token(booking)])
    except NoReverseMatch:  # the public pages are not mounted
        return ""
    return settings.SITE_URL + path_


def _local(moment: datetime, tz: str) -> str:
    return moment.astimezone(zoneinfo.ZoneInfo(tz)).isoformat()


# --- Serializers ------------------------------------------------------------------------------


class PublicBookingSerializer(serializers.Serializer):
    """A client books through the workspace's booking page: no sign-in."""

    workspace = serializers.SlugField(help_text="The workspace's slug.")
    booking_type = serializers.CharField(max_length=60, help_text="The type's slug or id.")
    start = AwareDateTimeField(help_text="One of the offered slots, ISO 8601 with its offset.")
    name = serializers.CharField(max_length=200)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    notes = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    staff = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        default=None,
        help_text="The practitioner chosen on the page; default: any who is free.",
    )

    def validate(self, attrs):
        if not (attrs["email"].strip() or attrs["phone"].strip()):
            raise serializers.ValidationError(
                {"email": "Give an email address or a phone number."}, code="required"
            )
        return attrs


class PublicBookingResultSerializer(serializers.Serializer):
    reference = serializers.CharField(help_text="What the client quotes to the business.")
    booking_type = serializers.CharField(help_text="The service's name.")
    start = serializers.DateTimeField(help_text="In the workspace's time zone.")
    end = serializers.DateTimeField()
    time_zone = serializers.CharField()
    status = serializers.CharField()
    manage_url = serializers.CharField(help_text="The client's link to cancel or reschedule.")


class SlotQuerySerializer(QueryParamsSerializer):
    workspace = serializers.SlugField(help_text="The workspace's slug.")
    booking_type = serializers.CharField(max_length=60, help_text="The type's slug or id.")
    from_ = serializers.DateField(help_text="First day, YYYY-MM-DD.")
    to = serializers.DateField(help_text=f"Last day (included); at most {SLOTS_MAX_DAYS} days.")
    tz = serializers.CharField(
        required=False,
        max_length=64,
        help_text="The visitor's IANA time zone; default: the workspace's.",
    )
    staff = serializers.IntegerField(
        min_value=1, required=False, help_text="Only this practitioner's free times."
    )

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields

    def validate_tz(self, value: str) -> str:
        if value not in zoneinfo.available_timezones():
            raise serializers.ValidationError("Unknown time zone.", code="invalid")
        return value

    def validate(self, attrs):
        first, last = attrs["from"], attrs["to"]
        if last < first:
            raise serializers.ValidationError({"to": "Must not be before `from`."}, code="invalid")
        if (last - first).days + 1 > SLOTS_MAX_DAYS:
            raise serializers.ValidationError(
                {"to": f"Ask for at most {SLOTS_MAX_DAYS} days at once."}, code="invalid"
            )
        return attrs


class SlotSerializer(serializers.Serializer):
    start = serializers.CharField(help_text="ISO 8601 in the requested time zone.")
    end = serializers.CharField()
    staff = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="The practitioners free then (user ids); empty: the shared calendar.",
    )


class SlotDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    slots = SlotSerializer(many=True)


class SlotsSerializer(serializers.Serializer):
    tz = serializers.CharField()
    days = SlotDaySerializer(many=True)


class PublicBookingTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = BookingType
        fields = ["name", "slug", "duration_minutes", "price_display", "description", "location"]
        read_only_fields = fields


class PublicWorkspaceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Workspace
        fields = ["name", "slug", "timezone"]
        read_only_fields = fields


class PublicTypesSerializer(serializers.Serializer):
    workspace = PublicWorkspaceSerializer()
    booking_types = PublicBookingTypeSerializer(many=True)


class PublicTypesQuerySerializer(QueryParamsSerializer):
    workspace = serializers.SlugField(help_text="The workspace's slug.")


# --- Views ------------------------------------------------------------------------------------

PUBLIC_ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid query; `fields` says why."),
    404: OpenApiResponse(ErrorSerializer, description="No such workspace or active service."),
    409: OpenApiResponse(
        ErrorSerializer, description="`workspace_not_live`: the business is still setting up."
    ),
}


def public_booking_create(request, key: str) -> Response:
    """The public booking page's POST /bookings: see BookingViewSet.create."""
    serializer = PublicBookingSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    workspace = workspace_by_slug(data["workspace"])
    booking_type = booking_type_of(workspace, data["booking_type"], active_only=True)
    if booking_type is None:
        raise NotFound()
    staff = member_or_none(workspace=workspace, user_id=data["staff"])
    booking, created = services.booking_book_publicly(
        workspace=workspace,
        booking_type=booking_type,
        start=data["start"],
        name=data["name"],
        email=data["email"],
        phone=data["phone"],
        notes=data["notes"],
        staff=staff,
        idempotency_key=key,
    )
    tz = workspace.timezone
    body = {
        "reference": booking_reference(booking),
        "booking_type": booking.booking_type.name,
        "start": _local(booking.start, tz),
        "end": _local(booking.end, tz),
        "time_zone": tz,
        "status": booking.status,
        "manage_url": booking_manage_url(booking),
    }
    return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


@extend_schema(tags=["booking page"])
class SlotsView(views.APIView):
    """The free start times of a booking type, day by day, for the public booking page."""

    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[SlotQuerySerializer], responses={200: SlotsSerializer, **PUBLIC_ERRORS}
    )
    def get(self, request):
        query = SlotQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        workspace = workspace_by_slug(data["workspace"])
        booking_type = booking_type_of(workspace, data["booking_type"], active_only=True)
        if booking_type is None:
            raise NotFound()
        staff = None
        if data.get("staff") is not None:
            staff = booking_type.staff.filter(pk=data["staff"]).first()
            if staff is None:
                raise InvalidInput(fields={"staff": ["This person does not offer this service."]})
        tz = data.get("tz") or workspace.timezone
        first, last = data["from"], data["to"]
        slots = available_slots(
            booking_type=booking_type, start_date=first, end_date=last, tz=tz, staff=staff
        )
        zone = zoneinfo.ZoneInfo(tz)
        days: dict[date, list[dict]] = {
            first + timedelta(days=n): [] for n in range((last - first).days + 1)
        }
        for slot in slots:
            start = slot.start.astimezone(zone)
            days.setdefault(start.date(), []).append(
                {
                    "start": start.isoformat(),
                    "end": slot.end.astimezone(zone).isoformat(),
                    "staff": [pk for pk in slot.staff_ids if pk is not None],
                }
            )
        return Response(
            {
                "tz": tz,
                "days": [
                    {"date": day.isoformat(), "slots": day_slots}
                    for day, day_slots in sorted(days.items())
                ],
            }
        )


@extend_schema(tags=["booking page"])
class PublicBookingTypesView(views.APIView):
    """A workspace's bookable services, for its public booking page."""

    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[PublicTypesQuerySerializer],
        responses={200: PublicTypesSerializer, **PUBLIC_ERRORS},
    )
    def get(self, request):
        query = PublicTypesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        workspace = workspace_by_slug(query.validated_data["workspace"])
        types = selectors.booking_types_for_workspace(workspace=workspace, active_only=True)
        return Response(
            {
                "workspace": PublicWorkspaceSerializer(workspace).data,
                "booking_types": PublicBookingTypeSerializer(types, many=True).data,
            }
        )


urlpatterns = [
    path("bookings/slots", SlotsView.as_view(), name="booking-slots"),
    path("bookings/types", PublicBookingTypesView.as_view(), name="booking-public-types"),
]
