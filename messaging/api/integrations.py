"""REST API of integrations: the provider accounts a workspace sends through (owners only).

Credentials are write-only: once saved, responses show them masked (their last four
characters) and never in full.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from careops.tenancy import WorkspaceViewSetMixin
from messaging import integrations as services
from messaging import selectors
from messaging.models import Channel, Integration
from messaging.providers import PROVIDERS


class IntegrationSerializer(serializers.ModelSerializer):
    credentials_masked = serializers.SerializerMethodField()
    webhook_urls = serializers.SerializerMethodField()

    class Meta:
        model = Integration
        fields = [
            "id",
            "provider",
            "channel",
            "priority",
            "is_active",
            "from_address",
            "credentials_masked",
            "webhook_urls",
            "last_error",
            "last_error_at",
            "last_success_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_credentials_masked(self, integration: Integration) -> dict[str, str]:
        return services.credentials_masked(integration)

    def get_webhook_urls(self, integration: Integration) -> dict[str, str]:
        return services.integration_webhook_urls(integration)


class IntegrationCreateSerializer(serializers.Serializer):
    provider = serializers.CharField(help_text=f"One of: {', '.join(PROVIDERS)}.")
    channel = serializers.ChoiceField(
        choices=Channel.choices,
        required=False,
        help_text="Derived from the provider when left out (console providers need it).",
    )
    credentials = serializers.DictField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=True),
        help_text="resend/sendgrid/postmark: api_key; mailgun: api_key, sender_domain; "
        "twilio: account_sid, auth_token. Optional: api_url (email), api_base_url (twilio).",
        required=False,
        default=dict,
    )
    from_address = serializers.CharField(
        help_text="Email providers: the sender's email address; Twilio: a number in E.164."
    )
    priority = serializers.IntegerField(
        required=False, help_text="1 is tried first. Default: after the last one."
    )
    is_active = serializers.BooleanField(required=False, default=True)


class IntegrationTestSerializer(serializers.Serializer):
    to = serializers.CharField(
        required=False, help_text="SMS integrations: the number to text, in E.164."
    )


class IntegrationTestResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    provider = serializers.CharField()
    error = serializers.CharField(allow_blank=True)


@extend_schema(tags=["integrations"])
class IntegrationViewSet(
    WorkspaceViewSetMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The workspace's provider accounts, per channel in the order they are tried."""

    queryset = Integration.objects.none()
    serializer_class = IntegrationSerializer
    owner_actions = ("*",)
    lookup_value_regex = "[0-9]+"
    filterset_fields = ["channel", "provider", "is_active"]
    ordering_fields = ["channel", "priority", "created_at"]

    def scoped_queryset(self):
        return selectors.integrations_for_workspace(workspace=self.request.workspace)

    def get_object(self):
        return get_object_or_404(self.scoped_queryset(), pk=self.kwargs["pk"])

    @extend_schema(request=IntegrationCreateSerializer, responses={201: IntegrationSerializer})
    def create(self, request, *args, **kwargs):
        data = IntegrationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        integration = services.integration_create(
            workspace=request.workspace, actor=request.user, **data.validated_data
        )
        return Response(IntegrationSerializer(integration).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.integration_delete(integration=instance, actor=self.request.user)

    @extend_schema(
        request=IntegrationTestSerializer,
        responses={200: IntegrationTestResultSerializer},
        description="Send a test message through this integration alone: an email to you, or "
        "an SMS to `to`. The answer says whether the provider accepted it.",
    )
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        integration = self.get_object()
        data = IntegrationTestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.integration_test(
            integration=integration, actor=request.user, to=data.validated_data.get("to")
        )
        return Response(IntegrationTestResultSerializer(result).data)


urlpatterns: list = []


def register(router) -> None:
    router.register("integrations", IntegrationViewSet, basename="integration")
