"""REST API of the inbox: conversations, their threads, staff replies, retries."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from careops.pagination import KeysetPagination
from careops.schema import ErrorSerializer
from careops.serializers import QueryParamsSerializer, RowsRendered, nested, row_of
from careops.tenancy import WorkspaceViewSetMixin
from contacts.api.contacts import CONTACT_BRIEF_FIELDS, ContactBriefSerializer
from messaging import selectors, services
from messaging.models import Channel, Conversation, Message
from workspaces.api import USER_BRIEF_FIELDS, UserBriefSerializer

# --- Serializers ------------------------------------------------------------------------------


class ConversationSerializer(RowsRendered, serializers.ModelSerializer):
    contact = ContactBriefSerializer(read_only=True)
    assigned_to = UserBriefSerializer(read_only=True, allow_null=True)
    has_failed = serializers.BooleanField(
        read_only=True, default=False, help_text="An outbound message of it failed."
    )
    last_inbound_channel = serializers.ChoiceField(
        choices=Channel.choices,
        allow_blank=True,
        read_only=True,
        help_text='The channel the contact last wrote on; "" until they write.',
    )

    class Meta:
        model = Conversation
        fields = [
            "id",
            "contact",
            "status",
            "unread_count",
            "last_message_at",
            "last_message_preview",
            "last_inbound_channel",
            "assigned_to",
            "automation_paused",
            "automation_paused_at",
            "has_failed",
            "created_at",
        ]
        read_only_fields = fields

    def to_representation(self, conversation: Conversation | dict) -> dict:
        # Built directly rather than by the fields above (which the schema reads): a page of
        # the inbox is thousands of field calls otherwise. The API tests pin the two as one.
        # The list passes rows (selectors.conversations_list(rows=True)); one conversation is
        # read as such a row.
        if isinstance(conversation, dict):
            row = conversation
        else:
            row = row_of(conversation, selectors.LISTED_COLUMNS)
            # Annotated by the selectors; an instance a service returns has none: False.
            row["has_failed"] = getattr(conversation, "has_failed", False)
        datetime_representation = self.datetime_representation
        return {
            "id": row["id"],
            "contact": nested(row, "contact", CONTACT_BRIEF_FIELDS),
            "status": row["status"],
            "unread_count": row["unread_count"],
            "last_message_at": datetime_representation(row["last_message_at"]),
            "last_message_preview": row["last_message_preview"],
            "last_inbound_channel": row["last_inbound_channel"],
            "assigned_to": nested(row, "assigned_to", USER_BRIEF_FIELDS),
            "automation_paused": row["automation_paused"],
            "automation_paused_at": datetime_representation(row["automation_paused_at"]),
            "has_failed": row.get("has_failed", False),
            "created_at": datetime_representation(row["created_at"]),
        }


class ConversationUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Conversation.Status.choices, required=False)
    assigned_to = serializers.IntegerField(
        required=False, allow_null=True, help_text="A member's user id; null to unassign."
    )


class ConversationFilterSerializer(QueryParamsSerializer):
    unread = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="true: only unread ones."
    )
    assigned = serializers.RegexField(
        r"^(me|none|[0-9]+)$",
        required=False,
        help_text='"me", "none" or a member\'s user id.',
        error_messages={"invalid": selectors.ASSIGNED_CHOICES_HELP},
    )
    status = serializers.ChoiceField(choices=Conversation.Status.choices, required=False)
    q = serializers.CharField(
        required=False, allow_blank=True, help_text="Part of the contact's name, email or phone."
    )


class SenderSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Message.SenderKind.choices)
    user = serializers.CharField(allow_null=True, help_text="The staff member's name.")
    reference = serializers.CharField(help_text='Who else sent it, e.g. "rule:12".')


class MessageSerializer(serializers.ModelSerializer):
    sender = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = [
            "id",
            "direction",
            "channel",
            "status",
            "subject",
            "body",
            "sender",
            "provider",
            "error",
            "attempts",
            "created_at",
            "sent_at",
            "delivered_at",
            "failed_at",
        ]
        read_only_fields = fields

    @extend_schema_field(SenderSerializer)
    def get_sender(self, message: Message) -> dict:
        user = message.sender_user
        return {
            "kind": message.sender_kind,
            "user": (user.name or user.email) if user else None,
            "reference": message.sender_reference,
        }


class ReplySerializer(serializers.Serializer):
    body = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Required without template_id."
    )
    channel = serializers.ChoiceField(
        choices=Channel.choices,
        required=False,
        allow_blank=True,
        help_text="Default: the channel the contact last wrote on, if they can be reached there.",
    )
    subject = serializers.CharField(required=False, allow_blank=True, max_length=255)
    template_id = serializers.IntegerField(
        required=False,
        help_text="A message template of the workspace, rendered for the contact; it fills "
        "the body and subject left blank.",
    )


class ThreadQuerySerializer(QueryParamsSerializer):
    after = serializers.IntegerField(
        required=False, min_value=0, help_text="Only messages with a greater id (polling)."
    )


# --- Views ------------------------------------------------------------------------------------


@extend_schema(tags=["inbox"])
class ConversationViewSet(
    WorkspaceViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The inbox, by last activity. Owners and staff read, reply, assign and close."""

    queryset = Conversation.objects.none()
    serializer_class = ConversationSerializer
    # The inbox and a thread grow without bound: keyset pages, no count, no offset.
    pagination_class = KeysetPagination
    http_method_names = ["get", "post", "patch", "head", "options"]
    lookup_value_regex = "[0-9]+"
    filter_backends: list = []  # the filters below are parsed and validated by hand

    def scoped_queryset(self):
        return selectors.conversations_for_workspace(workspace=self.request.workspace)

    def get_object(self):
        return selectors.conversation_get(workspace=self.request.workspace, pk=self.kwargs["pk"])

    @extend_schema(parameters=[ConversationFilterSerializer])
    def list(self, request, *args, **kwargs):
        filters = ConversationFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        conversations = selectors.conversations_list(
            workspace=request.workspace, user=request.user, rows=True, **filters.validated_data
        )
        page = self.paginate_queryset(conversations)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(request=ConversationUpdateSerializer, responses={200: ConversationSerializer})
    def partial_update(self, request, *args, **kwargs):
        conversation = self.get_object()
        changes = ConversationUpdateSerializer(data=request.data, partial=True)
        changes.is_valid(raise_exception=True)
        services.conversation_update(
            conversation=conversation, actor=request.user, **changes.validated_data
        )
        return Response(self._fresh(conversation))

    def _fresh(self, conversation: Conversation) -> dict:
        """The conversation as the list shows it, re-read after a write (counts may move)."""
        return self.get_serializer(
            selectors.conversation_get(workspace=self.request.workspace, pk=conversation.pk)
        ).data

    @extend_schema(
        methods=["GET"],
        parameters=[ThreadQuerySerializer],
        responses={200: MessageSerializer(many=True)},
        description="The thread, oldest first, paginated.",
    )
    @extend_schema(
        methods=["POST"],
        request=ReplySerializer,
        responses={201: MessageSerializer, 400: ErrorSerializer},
        description="A staff reply: queued for delivery at once; it pauses automation for "
        "this conversation. No reachable channel answers 400 with a `channel` field error.",
    )
    @action(detail=True, methods=["get", "post"], serializer_class=MessageSerializer)
    def messages(self, request, pk=None):
        conversation = self.get_object()
        if request.method == "POST":
            reply = ReplySerializer(data=request.data)
            reply.is_valid(raise_exception=True)
            data = reply.validated_data
            message = services.conversation_reply(
                conversation=conversation,
                actor=request.user,
                body=data["body"],
                channel=data.get("channel") or None,
                subject=data.get("subject", ""),
                template_id=data.get("template_id"),
            )
            message.refresh_from_db()  # delivery may already have moved it on
            return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)
        query = ThreadQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        messages = selectors.conversation_messages(
            conversation=conversation, after=query.validated_data.get("after")
        )
        page = self.paginate_queryset(messages)
        return self.get_paginated_response(MessageSerializer(page, many=True).data)

    @extend_schema(request=None, responses={200: ConversationSerializer})
    @action(detail=True, methods=["post"], url_path="mark-read")
    def mark_read(self, request, pk=None):
        conversation = services.conversation_mark_read(conversation=self.get_object())
        return Response(self.get_serializer(conversation).data)

    @extend_schema(request=None, responses={200: ConversationSerializer})
    @action(detail=True, methods=["post"], url_path="pause-automation")
    def pause_automation(self, request, pk=None):
        conversation = services.conversation_set_automation(
            conversation=self.get_object(), paused=True, actor=request.user
        )
        return Response(self.get_serializer(conversation).data)

    @extend_schema(request=None, responses={200: ConversationSerializer})
    @action(detail=True, methods=["post"], url_path="resume-automation")
    def resume_automation(self, request, pk=None):
        conversation = services.conversation_set_automation(
            conversation=self.get_object(), paused=False, actor=request.user
        )
        return Response(self.get_serializer(conversation).data)

    @extend_schema(
        request=None,
        responses={200: MessageSerializer, 409: ErrorSerializer},
        description="Send a failed message again now; any other message answers 409.",
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"messages/(?P<message_id>[0-9]+)/retry",
        serializer_class=MessageSerializer,
    )
    def retry(self, request, pk=None, message_id=None):
        message = selectors.message_get(conversation=self.get_object(), pk=message_id)
        message = services.message_retry(message=message, actor=request.user)
        return Response(MessageSerializer(message).data)


urlpatterns: list = []


def register(router) -> None:
    router.register(r"messages/conversations", ConversationViewSet, basename="conversation")
