"""REST API of message templates: owners write them, staff read and preview them."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from careops.tenancy import WorkspaceViewSetMixin
from contacts.models import Contact
from messaging import message_templates as services
from messaging.models import Channel, MessageTemplate
from messaging.rendering import KNOWN_ROOTS


class MessageTemplateSerializer(serializers.ModelSerializer):
    channel = serializers.ChoiceField(
        choices=Channel.choices,
        allow_blank=True,
        required=False,
        default="",
        help_text="Blank: either channel.",
    )

    class Meta:
        model = MessageTemplate
        fields = ["id", "name", "channel", "subject", "body", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {
            "subject": {"help_text": "Email only; may use {{ variables }} too."},
            "body": {
                "help_text": "Django template syntax with {{ variables }} of: "
                + ", ".join(KNOWN_ROOTS)
                + "; tags if, for, with, firstof, comment; filters such as default, upper."
            },
        }
        # Uniqueness is the service's to check, with a field message; the constraint backs it.
        validators: list = []


class PreviewRequestSerializer(serializers.Serializer):
    contact_id = serializers.IntegerField(
        required=False, help_text="A contact of this workspace; left out: a sample contact."
    )


class PreviewSerializer(serializers.Serializer):
    subject = serializers.CharField(allow_blank=True)
    body = serializers.CharField(allow_blank=True)


@extend_schema(tags=["templates"])
class MessageTemplateViewSet(WorkspaceViewSetMixin, viewsets.ModelViewSet):
    """Canned replies and automations' messages."""

    queryset = MessageTemplate.objects.none()
    serializer_class = MessageTemplateSerializer
    owner_actions = ("create", "update", "partial_update", "destroy")
    lookup_value_regex = "[0-9]+"
    filterset_fields = ["channel"]
    ordering_fields = ["name", "created_at"]

    def scoped_queryset(self):
        return MessageTemplate.objects.for_workspace(self.request.workspace).order_by("name", "pk")

    def get_object(self):
        return get_object_or_404(self.scoped_queryset(), pk=self.kwargs["pk"])

    def perform_create(self, serializer):
        serializer.instance = services.template_create(
            workspace=self.request.workspace, actor=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.template_update(
            template=serializer.instance, actor=self.request.user, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.template_delete(template=instance, actor=self.request.user)

    @extend_schema(request=PreviewRequestSerializer, responses={200: PreviewSerializer})
    @action(detail=True, methods=["post"])
    def preview(self, request, pk=None):
        template = self.get_object()
        data = PreviewRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        contact = None
        if "contact_id" in data.validated_data:
            contact = get_object_or_404(
                Contact.objects.for_workspace(request.workspace),
                pk=data.validated_data["contact_id"],
            )
        subject, body = services.template_preview(
            template=template, workspace=request.workspace, contact=contact
        )
        return Response(PreviewSerializer({"subject": subject, "body": body}).data)


urlpatterns: list = []


def register(router) -> None:
    router.register("messages/templates", MessageTemplateViewSet, basename="message-template")
