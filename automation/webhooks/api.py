"""REST API of outbound webhooks, owners only: the endpoints, their deliveries, a test ping and
switching a disabled endpoint back on. The signing secret is returned once, by the create."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from automation.models import WebhookDelivery, WebhookEndpoint
from automation.webhooks import delivery, selectors, services
from automation.webhooks.events import WEBHOOK_EVENT_CHOICES
from careops.crypto import mask
from careops.pagination import PageNumberPagination
from careops.tenancy import WorkspaceViewSetMixin

# --- Serializers ------------------------------------------------------------------------------


class WebhookEndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=WEBHOOK_EVENT_CHOICES))
    secret_hint = serializers.SerializerMethodField(
        help_text="The secret's last four characters: it is shown in full only on creation."
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "events",
            "is_active",
            "disabled_at",
            "disabled_reason",
            "consecutive_failures",
            "last_success_at",
            "secret_hint",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_secret_hint(self, endpoint: WebhookEndpoint) -> str:
        return mask(endpoint.secret or "")


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text="Signs every delivery (CareOps-Signature). Store it now: it is never "
        "returned again.",
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookEndpointWriteSerializer(serializers.Serializer):
    url = serializers.CharField(
        max_length=services.URL_MAX_LENGTH,
        help_text="https, on a public address; no user name or password in it.",
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WEBHOOK_EVENT_CHOICES), allow_empty=False
    )
    description = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    secret = serializers.CharField(
        required=False,
        allow_blank=True,
        write_only=True,
        min_length=services.SECRET_MIN_LENGTH,
        max_length=services.SECRET_MAX_LENGTH,
        help_text="Leave it out to have one made (returned once, in the answer).",
    )


class WebhookEndpointUpdateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=services.URL_MAX_LENGTH, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WEBHOOK_EVENT_CHOICES),
        allow_empty=False,
        required=False,
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "kind",
            "event",
            "status",
            "attempts",
            "next_attempt_at",
            "last_attempt_at",
            "last_status_code",
            "last_response_ms",
            "last_error",
            "delivered_at",
            "payload",
            "created_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "kind": {"help_text": "The event kind, or `ping` for a test."},
            "event": {"help_text": "The event's id (null for a ping)."},
            "next_attempt_at": {"help_text": "Pending: when it is tried (again)."},
            "last_response_ms": {"help_text": "How long the last attempt took to answer."},
            "payload": {"help_text": "The JSON body sent (signed as is)."},
        }


# --- Views ------------------------------------------------------------------------------------

VALIDATION = OpenApiResponse(
    description="`validation_error`: a private or non-https URL, an unknown event, a secret "
    "too short, or the workspace's limit of endpoints reached."
)


@extend_schema(tags=["webhooks"])
class WebhookEndpointViewSet(
    WorkspaceViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """The workspace's webhook endpoints (owners only): each receives a signed POST for the
    events it chose."""

    queryset = WebhookEndpoint.objects.none()
    serializer_class = WebhookEndpointSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_regex = "[0-9]+"
    filter_backends: list = []
    pagination_class = None  # a few rows at most (services.MAX_ENDPOINTS)
    owner_actions = ("*",)

    def scoped_queryset(self):
        return selectors.webhook_endpoints_for_workspace(workspace=self.request.workspace)

    @extend_schema(
        request=WebhookEndpointWriteSerializer,
        responses={201: WebhookEndpointCreatedSerializer, 400: VALIDATION},
        description="Register an endpoint. The answer holds the signing secret in full, the "
        "only time it is shown.",
    )
    def create(self, request):
        serializer = WebhookEndpointWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = services.webhook_endpoint_create(
            workspace=request.workspace, actor=request.user, **serializer.validated_data
        )
        return Response(
            WebhookEndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        request=WebhookEndpointUpdateSerializer,
        responses={200: WebhookEndpointSerializer, 400: VALIDATION},
        description="Change the URL, the events or the description.",
    )
    def partial_update(self, request, pk=None):
        endpoint = self.get_object()
        serializer = WebhookEndpointUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = services.webhook_endpoint_update(
            endpoint=endpoint, actor=request.user, **serializer.validated_data
        )
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(responses={204: None}, description="Remove the endpoint and its deliveries.")
    def destroy(self, request, pk=None):
        services.webhook_endpoint_delete(endpoint=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        responses={200: WebhookDeliverySerializer(many=True)},
        description="The endpoint's deliveries, newest first, with each one's last attempt.",
    )
    @action(detail=True, methods=["get"], pagination_class=PageNumberPagination)
    def deliveries(self, request, pk=None):
        endpoint = self.get_object()
        page = self.paginate_queryset(selectors.webhook_deliveries_recent(endpoint=endpoint))
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)

    @extend_schema(
        request=None,
        responses={200: WebhookDeliverySerializer},
        description="Send a signed `ping` now and say how it went (status code, response "
        "time, error). Not retried; a disabled endpoint can be tested too.",
    )
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        ping = delivery.webhook_endpoint_ping(endpoint=self.get_object(), actor=request.user)
        return Response(WebhookDeliverySerializer(ping).data)

    @extend_schema(
        request=None,
        responses={200: WebhookEndpointSerializer},
        description="Switch a disabled endpoint on again: its failure count restarts and its "
        "alert is resolved. What was abandoned when it was disabled is not sent again.",
    )
    @action(detail=True, methods=["post"])
    def enable(self, request, pk=None):
        endpoint = services.webhook_endpoint_enable(endpoint=self.get_object(), actor=request.user)
        return Response(WebhookEndpointSerializer(endpoint).data)
