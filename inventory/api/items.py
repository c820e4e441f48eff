"""REST API of a workspace's inventory: items, the low-stock list, recording usage, restocks and
count corrections, an item's history, and what each service consumes of it.

Owners and staff record usage and restocks and manage items; owners alone correct counts, allow
a usage beyond what is in stock, and say what services consume."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from bookings.models import Booking, BookingType
from careops.errors import InvalidInput
from careops.serializers import QueryParamsSerializer
from careops.tenancy import WorkspaceViewSetMixin
from inventory import selectors, services
from inventory.models import BookingTypeConsumption, InventoryItem, InventoryUsage
from inventory.services import MAX_QUANTITY
from workspaces.api import UserBriefSerializer


def quantity_field(*, minimum: int = 1, **kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=minimum, max_value=MAX_QUANTITY, **kwargs)


# --- Serializers ------------------------------------------------------------------------------


class InventoryItemSerializer(serializers.ModelSerializer):
    quantity_on_hand = quantity_field(
        minimum=0,
        required=False,
        help_text="Opening stock on create (recorded as a restock); read-only afterwards: "
        "stock moves through usage, restock and correction.",
    )
    low_stock_threshold = quantity_field(minimum=0, required=False)
    reorder_quantity = quantity_field(minimum=0, required=False)
    is_low = serializers.BooleanField(
        read_only=True, help_text="At or below the low-stock threshold."
    )
    needed_7d = serializers.IntegerField(
        source="forecast.needed_7d",
        read_only=True,
        help_text="What the pending and confirmed bookings from now to the end of the "
        "workspace's 7th day (today the first) will use of it.",
    )
    needed_30d = serializers.IntegerField(
        source="forecast.needed_30d",
        read_only=True,
        help_text="The same to the end of the workspace's 30th day.",
    )
    runs_out_on = serializers.DateField(
        source="forecast.runs_out_on",
        read_only=True,
        allow_null=True,
        help_text="The workspace's date on which those bookings would need more than is on "
        "hand; null if the stock lasts the 30 days.",
    )
    short_7d = serializers.BooleanField(
        source="forecast.short_7d",
        read_only=True,
        help_text="The next 7 days' bookings need more than is on hand, whatever the "
        "low-stock threshold.",
    )

    class Meta:
        model = InventoryItem
        fields = [
            "id",
            "name",
            "sku",
            "unit",
            "quantity_on_hand",
            "low_stock_threshold",
            "reorder_quantity",
            "supplier_note",
            "is_active",
            "is_low",
            "low_since",
            "needed_7d",
            "needed_30d",
            "runs_out_on",
            "short_7d",
            "created_at",
            "updated_at",
        ]
        # The forecast's fields are declared read-only above.
        read_only_fields = [
            "id",
            "is_low",
            "low_since",
            "created_at",
            "updated_at",
        ]

    def validate_sku(self, value: str) -> str:
        return value.strip()

    def validate(self, data: dict) -> dict:
        if self.instance is not None and "quantity_on_hand" in data:
            raise serializers.ValidationError(
                {
                    "quantity_on_hand": "Stock changes through a usage, restock or correction, "
                    "so the history explains it."
                }
            )
        return data


class InventoryItemBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = InventoryItem
        fields = ["id", "name", "sku", "unit", "quantity_on_hand", "low_stock_threshold"]
        read_only_fields = fields


class InventoryUsageSerializer(serializers.ModelSerializer):
    actor = UserBriefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = InventoryUsage
        fields = [
            "id",
            "item",
            "kind",
            "quantity",
            "change",
            "balance_after",
            "shortfall",
            "actor",
            "booking",
            "occurred_at",
            "note",
            "created_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "change": {"help_text": "What it did to the quantity on hand (signed)."},
            "shortfall": {"help_text": "Used beyond what was on hand (owner's say-so)."},
        }


class StockMoveResultSerializer(serializers.Serializer):
    usage = InventoryUsageSerializer()
    item = InventoryItemSerializer()


class UsageSerializer(serializers.Serializer):
    item = serializers.IntegerField(min_value=1, help_text="The item's id.")
    quantity = quantity_field()
    booking = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, default=None, help_text="A booking's id."
    )
    note = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    allow_shortfall = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Owners only: record a usage beyond what is in stock (stock stops at zero).",
    )


class RestockSerializer(serializers.Serializer):
    quantity = quantity_field()
    note = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class CorrectionSerializer(serializers.Serializer):
    counted = quantity_field(minimum=0, help_text="The quantity actually on hand.")
    note = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class ConsumptionSerializer(serializers.ModelSerializer):
    booking_type = serializers.SerializerMethodField()

    class Meta:
        model = BookingTypeConsumption
        fields = ["booking_type", "quantity"]
        read_only_fields = fields

    def get_booking_type(self, consumption: BookingTypeConsumption) -> dict:
        return {"id": consumption.booking_type_id, "name": consumption.booking_type.name}


class ConsumptionSetSerializer(serializers.Serializer):
    booking_type = serializers.IntegerField(min_value=1, help_text="The service's id.")
    quantity = quantity_field(minimum=0, help_text="Used by one booking; 0 removes it.")


class ItemFilterSerializer(QueryParamsSerializer):
    q = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="Name or SKU."
    )
    active = serializers.BooleanField(required=False, allow_null=True, default=None)


# --- Views ------------------------------------------------------------------------------------

MOVED = {
    201: StockMoveResultSerializer,
    409: OpenApiResponse(
        description="`insufficient_stock`: not enough on hand; `quantity_on_hand` says how many."
    ),
}


@extend_schema(tags=["inventory"])
class InventoryItemViewSet(WorkspaceViewSetMixin, viewsets.GenericViewSet):
    """The workspace's stock. Every change to a quantity is a row of the item's history."""

    queryset = InventoryItem.objects.none()
    serializer_class = InventoryItemSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]
    lookup_value_regex = "[0-9]+"
    filter_backends: list = []
    owner_actions = ("correction", "consumptions_set")

    def scoped_queryset(self) -> QuerySet[InventoryItem]:
        return selectors.items_for_workspace(workspace=self.request.workspace)

    def get_object(self) -> InventoryItem:
        return selectors.item_get(workspace=self.request.workspace, pk=self.kwargs["pk"])

    def _forecast(self, items) -> list[InventoryItem]:
        """The items with their stock forecast, as InventoryItemSerializer renders them."""
        return selectors.items_with_forecast(workspace=self.request.workspace, items=items)

    def _item_data(self, item: InventoryItem) -> dict:
        return InventoryItemSerializer(self._forecast([item])[0]).data

    def _moved(self, usage: InventoryUsage, item: InventoryItem, code: int = 200) -> Response:
        body = {"usage": InventoryUsageSerializer(usage).data, "item": self._item_data(item)}
        return Response(body, status=code)

    @extend_schema(parameters=[ItemFilterSerializer])
    def list(self, request):
        filters = ItemFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        items = selectors.items_for_workspace(
            workspace=request.workspace,
            q=filters.validated_data.get("q", ""),
            active=filters.validated_data.get("active"),
        )
        page = self._forecast(self.paginate_queryset(items))
        return self.get_paginated_response(InventoryItemSerializer(page, many=True).data)

    @extend_schema(
        responses={200: InventoryItemSerializer(many=True)},
        description="Active items at or below their low-stock threshold, by name.",
    )
    @action(detail=False, methods=["get"], url_path="low-stock")
    def low_stock(self, request):
        page = self._forecast(
            self.paginate_queryset(selectors.items_low(workspace=request.workspace))
        )
        return self.get_paginated_response(InventoryItemSerializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(self._item_data(self.get_object()))

    @extend_schema(responses={201: InventoryItemSerializer})
    def create(self, request):
        serializer = InventoryItemSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        item = services.item_create(
            workspace=request.workspace, actor=request.user, **serializer.validated_data
        )
        return Response(self._item_data(item), status=status.HTTP_201_CREATED)

    @extend_schema(
        description="Edit an item's details; its quantity moves through usage, "
        "restock and correction."
    )
    def partial_update(self, request, pk=None):
        item = self.get_object()
        serializer = InventoryItemSerializer(item, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        item = services.item_update(item=item, actor=request.user, **serializer.validated_data)
        return Response(self._item_data(item))

    @extend_schema(
        request=UsageSerializer,
        responses=MOVED,
        description="Record what was used: the stock goes down by `quantity` atomically. "
        "Beyond what is on hand: 409, unless an owner sets `allow_shortfall` (staff: 403).",
    )
    @action(detail=False, methods=["post"])
    def usage(self, request):
        serializer = UsageSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        item = selectors.item_get(workspace=request.workspace, pk=data["item"])
        booking = None
        if data["booking"] is not None:
            booking = (
                Booking.objects.for_workspace(request.workspace).filter(pk=data["booking"]).first()
            )
            if booking is None:
                raise InvalidInput(fields={"booking": ["No such booking in this workspace."]})
        usage = services.stock_move(
            item=item,
            kind=InventoryUsage.Kind.USAGE,
            quantity=data["quantity"],
            actor=request.user,
            booking=booking,
            note=data["note"],
            allow_shortfall=data["allow_shortfall"],
        )
        return self._moved(usage, item, status.HTTP_201_CREATED)

    @extend_schema(request=RestockSerializer, responses=MOVED, description="Add stock.")
    @action(detail=True, methods=["post"])
    def restock(self, request, pk=None):
        return self._move_item(request, RestockSerializer, InventoryUsage.Kind.RESTOCK, "quantity")

    @extend_schema(
        request=CorrectionSerializer,
        responses=MOVED,
        description="Owners: set the quantity on hand to what was counted; the history records "
        "the difference.",
    )
    @action(detail=True, methods=["post"])
    def correction(self, request, pk=None):
        return self._move_item(
            request, CorrectionSerializer, InventoryUsage.Kind.CORRECTION, "counted"
        )

    def _move_item(self, request, serializer_class, kind: str, quantity_field: str) -> Response:
        """This item's restock or correction: the body parsed, the move recorded."""
        item = self.get_object()
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        usage = services.stock_move(
            item=item,
            kind=kind,
            quantity=serializer.validated_data[quantity_field],
            actor=request.user,
            note=serializer.validated_data["note"],
        )
        return self._moved(usage, item, status.HTTP_201_CREATED)

    @extend_schema(
        responses={200: InventoryUsageSerializer(many=True)},
        description="Every change to the item's stock, newest first.",
    )
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        item = self.get_object()
        page = self.paginate_queryset(selectors.item_history(item=item))
        return self.get_paginated_response(InventoryUsageSerializer(page, many=True).data)

    @extend_schema(
        responses={200: ConsumptionSerializer(many=True)},
        description="The services that use the item, and how many one booking uses.",
    )
    @action(detail=True, methods=["get"], pagination_class=None)  # a few rows: one per service
    def consumptions(self, request, pk=None):
        item = self.get_object()
        rows = selectors.item_consumptions(item=item)
        return Response(ConsumptionSerializer(rows, many=True).data)

    @extend_schema(
        request=ConsumptionSetSerializer,
        responses={200: ConsumptionSerializer(many=True)},
        description="Owners: how many one booking of the service uses; 0 removes it. "
        "Completing a booking records that usage.",
    )
    @consumptions.mapping.post
    def consumptions_set(self, request, pk=None):
        item = self.get_object()
        serializer = ConsumptionSetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        booking_type = (
            BookingType.objects.for_workspace(request.workspace)
            .filter(pk=serializer.validated_data["booking_type"])
            .first()
        )
        if booking_type is None:
            raise InvalidInput(fields={"booking_type": ["No such service in this workspace."]})
        services.consumption_set(
            booking_type=booking_type,
            item=item,
            quantity=serializer.validated_data["quantity"],
            actor=request.user,
        )
        rows = selectors.item_consumptions(item=item)
        return Response(ConsumptionSerializer(rows, many=True).data)
