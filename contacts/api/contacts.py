"""REST API of contacts: the list and search, a contact with its timeline, edits, merges, and
the public contact form (an anonymous POST to the same collection)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from careops import rls
from careops.errors import NotFound
from careops.pagination import KeysetPagination, PageNumberPagination
from careops.serializers import QueryParamsSerializer, RowsRendered, row_of
from careops.tenancy import WorkspaceViewSetMixin, staff_areas
from careops.throttling import ScopedRateThrottle
from contacts import selectors, services
from contacts.models import Contact, ContactMerge, Tag, first_name_of
from contacts.services import identity
from workspaces.models import Workspace

# --- Serializers ------------------------------------------------------------------------------


CONTACT_BRIEF_FIELDS = ("id", "name", "email", "phone")


class ContactBriefSerializer(serializers.ModelSerializer):
    """A contact as other apps' resources show it (a conversation's, a booking's)."""

    class Meta:
        model = Contact
        fields = list(CONTACT_BRIEF_FIELDS)
        read_only_fields = fields

    def to_representation(self, contact: Contact) -> dict:
        return row_of(contact, CONTACT_BRIEF_FIELDS)


class ContactSerializer(RowsRendered, serializers.ModelSerializer):
    first_name = serializers.CharField(read_only=True)
    # Declared for the schema: a contact may have no email ("", not null).
    email = serializers.EmailField(read_only=True, allow_blank=True)
    tags = serializers.SerializerMethodField()

    class Meta:
        model = Contact
        fields = [
            "id",
            "name",
            "first_name",
            "email",
            "phone",
            "source",
            "tags",
            "notes",
            "custom_fields",
            "email_consent",
            "email_consent_at",
            "email_consent_source",
            "sms_consent",
            "sms_consent_at",
            "sms_consent_source",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def to_representation(self, contact: Contact | dict) -> dict:
        # Built directly rather than by the fields above (which the schema reads): a page of
        # the list is a thousand field calls otherwise. test_api pins the two as one. The list
        # passes rows (selectors.contacts_listed, with_tag_names); one contact is read as such
        # a row.
        if isinstance(contact, dict):
            row = contact
        else:
            row = row_of(contact, selectors.LISTED_COLUMNS)
            row["tags"] = self.get_tags(contact)
        datetime_representation = self.datetime_representation
        return {
            "id": row["id"],
            "name": row["name"],
            "first_name": first_name_of(row["name"]),
            "email": row["email"],
            "phone": row["phone"],
            "source": row["source"],
            "tags": row["tags"],
            "notes": row["notes"],
            "custom_fields": row["custom_fields"],
            "email_consent": row["email_consent"],
            "email_consent_at": datetime_representation(row["email_consent_at"]),
            "email_consent_source": row["email_consent_source"],
            "sms_consent": row["sms_consent"],
            "sms_consent_at": datetime_representation(row["sms_consent_at"]),
            "sms_consent_source": row["sms_consent_source"],
            "created_at": datetime_representation(row["created_at"]),
            "updated_at": datetime_representation(row["updated_at"]),
        }

    def get_tags(self, contact: Contact) -> list[str]:
        return sorted((tag.name for tag in contact.tags.all()), key=str.lower)


class TimelineEntrySerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="message, booking or form_submission.")
    at = serializers.DateTimeField()
    title = serializers.CharField()
    detail = serializers.CharField()
    url = serializers.CharField(help_text="The page showing this entry.")
    meta = serializers.DictField()


class ContactDetailSerializer(ContactSerializer):
    timeline = serializers.SerializerMethodField()

    class Meta(ContactSerializer.Meta):
        fields = [*ContactSerializer.Meta.fields, "timeline"]
        read_only_fields = fields

    def to_representation(self, contact: Contact) -> dict:
        return {**super().to_representation(contact), "timeline": self.get_timeline(contact)}

    @extend_schema_field(TimelineEntrySerializer(many=True))
    def get_timeline(self, contact: Contact) -> list[dict]:
        request = self.context.get("request")
        membership = getattr(request, "membership", None)
        areas = staff_areas(membership) if membership is not None else None
        entries = selectors.contact_timeline(contact=contact, areas=areas)
        return TimelineEntrySerializer(entries, many=True).data


class ContactWriteSerializer(serializers.Serializer):
    """What staff set on a contact. Email and phone are normalized (lower-case, E.164) and
    checked by the service, which also refuses one that another contact already has."""

    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    notes = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50),
        max_length=identity.MAX_TAGS,
        required=False,
        help_text="Tag names; replaces the contact's tags. New names create tags.",
    )
    custom_fields = serializers.DictField(
        required=False,
        help_text="A flat object of names and text, number or true/false values "
        f"(at most {identity.MAX_CUSTOM_FIELDS}); replaces the contact's custom fields.",
    )
    email_consent = serializers.BooleanField(required=False)
    sms_consent = serializers.BooleanField(required=False)


class ContactFormSerializer(serializers.Serializer):
    """The public contact form of a workspace's site: no sign-in."""

    workspace = serializers.SlugField(help_text="The workspace's slug.")
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    email = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    subject = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    message = serializers.CharField(max_length=5000)
    email_consent = serializers.BooleanField(required=False, default=False)
    sms_consent = serializers.BooleanField(required=False, default=False)
    website = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Leave empty (spam trap)."
    )


class ReceivedSerializer(serializers.Serializer):
    status = serializers.CharField(help_text='Always "received".')


class ContactFilterSerializer(QueryParamsSerializer):
    q = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="Name, email or phone."
    )
    tag = serializers.CharField(required=False, allow_blank=True, max_length=50)
    source = serializers.ChoiceField(choices=Contact.Source.choices, required=False)
    ordering = serializers.ChoiceField(
        choices=["name", "-name", "created_at", "-created_at"],
        required=False,
        default="-created_at",
        help_text="A cursor belongs to one ordering: another ordering starts from the first page.",
    )


class MergeSerializer(serializers.Serializer):
    other_id = serializers.IntegerField(
        min_value=1, help_text="The contact folded into this one (and then deleted)."
    )


class ContactMergeSerializer(serializers.ModelSerializer):
    survivor = ContactSerializer()

    class Meta:
        model = ContactMerge
        fields = ["id", "survivor", "merged_contact_id", "merged_snapshot", "moved", "created_at"]
        read_only_fields = fields


class TagSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ["id", "name"]
        read_only_fields = fields


# --- Views ------------------------------------------------------------------------------------


@extend_schema(tags=["contacts"])
class ContactViewSet(WorkspaceViewSetMixin, viewsets.GenericViewSet):
    """The workspace's contacts. Staff list, read, add and edit; owners merge.

    POST without a token is the public contact form (see `create`).
    """

    queryset = Contact.objects.none()
    serializer_class = ContactSerializer
    pagination_class = KeysetPagination  # the list grows without bound: no count, no offset
    owner_actions = ("merge",)
    http_method_names = ["get", "post", "patch", "head", "options"]
    lookup_value_regex = "[0-9]+"
    filter_backends: list = []  # the list's filters are ContactFilterSerializer's
    throttle_scope = "contact_form"  # read by ScopedRateThrottle, used for the public form only

    def scoped_queryset(self) -> QuerySet[Contact]:
        return selectors.contacts_list(workspace=self.request.workspace)

    def _is_contact_form(self) -> bool:
        request = getattr(self, "request", None)
        user = getattr(request, "user", None)
        return self.action == "create" and not (user and user.is_authenticated)

    def get_permissions(self):
        if self._is_contact_form():
            return [AllowAny()]
        return super().get_permissions()

    def get_throttles(self):
        if self._is_contact_form():
            return [ScopedRateThrottle()]
        return super().get_throttles()

    @extend_schema(parameters=[ContactFilterSerializer])
    def list(self, request):
        filters = ContactFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        contacts = selectors.contacts_list(workspace=request.workspace, **filters.validated_data)
        page = selectors.with_tag_names(self.paginate_queryset(selectors.contacts_listed(contacts)))
        return self.get_paginated_response(ContactSerializer(page, many=True).data)

    @extend_schema(responses={200: ContactDetailSerializer})
    def retrieve(self, request, pk=None):
        contact = self.get_object()
        return Response(ContactDetailSerializer(contact, context={"request": request}).data)

    @extend_schema(
        request=PolymorphicProxySerializer(
            component_name="ContactCreate",
            serializers=[ContactWriteSerializer, ContactFormSerializer],
            resource_type_field_name=None,
        ),
        responses={
            201: PolymorphicProxySerializer(
                component_name="ContactCreated",
                serializers=[ContactSerializer, ReceivedSerializer],
                resource_type_field_name=None,
            ),
            202: OpenApiResponse(ReceivedSerializer, description="Spam trap filled: ignored."),
            409: OpenApiResponse(
                description="Contact form: `workspace_not_live`, the business is still setting up."
            ),
        },
        description=(
            "Signed in: staff add a contact to the workspace (`ContactWrite`); an email or "
            "phone another contact has is refused, naming it in `existing_id`.\n\n"
            "Without a token: the public contact form (`ContactForm`). The person's contact is "
            "created, or updated when the email or phone is known, and the message reaches the "
            "inbox. Answers 201 `received` without revealing anything about the workspace's "
            "contacts; rate limited per address."
        ),
    )
    def create(self, request):
        if self._is_contact_form():
            return self._contact_form(request)
        serializer = ContactWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        contact = services.contact_create(
            workspace=request.workspace, actor=request.user, **serializer.validated_data
        )
        return Response(ContactSerializer(contact).data, status=status.HTTP_201_CREATED)

    def _contact_form(self, request):
        if isinstance(request.data, dict) and request.data.get("website"):
            # A bot filled the hidden field: it learns nothing, and nothing is stored.
            return Response({"status": "received"}, status=status.HTTP_202_ACCEPTED)
        serializer = ContactFormSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        workspace = Workspace.objects.filter(slug=data["workspace"]).first()
        if workspace is None:
            raise NotFound()
        rls.narrow(workspace.pk)
        services.contact_form_submit(
            workspace=workspace,
            message=data["message"],
            name=data["name"],
            email=data["email"],
            phone=data["phone"],
            subject=data["subject"],
            email_consent=data["email_consent"],
            sms_consent=data["sms_consent"],
        )
        return Response({"status": "received"}, status=status.HTTP_201_CREATED)

    @extend_schema(request=ContactWriteSerializer, responses={200: ContactSerializer})
    def partial_update(self, request, pk=None):
        contact = self.get_object()
        serializer = ContactWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        contact = services.contact_update(
            contact=contact, actor=request.user, **serializer.validated_data
        )
        return Response(ContactSerializer(contact).data)

    @extend_schema(
        request=MergeSerializer,
        responses={200: ContactMergeSerializer},
        description="Owners only. Fold contact `other_id` into this one: its conversation and "
        "messages, bookings, form submissions and tags move here, blanks here are filled from "
        "it, and it is deleted. The merge record keeps a snapshot of it.",
    )
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        survivor = self.get_object()
        serializer = MergeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        other_id = serializer.validated_data["other_id"]
        other = Contact.objects.for_workspace(request.workspace).filter(pk=other_id).first()
        if other is None:
            raise NotFound(
                "Contact not found.", fields={"other_id": ["No such contact in this workspace."]}
            )
        record = services.contact_merge(survivor=survivor, merged=other, actor=request.user)
        return Response(ContactMergeSerializer(record).data)

    @extend_schema(responses={200: TagSerializer(many=True)})
    @action(detail=False, methods=["get"], pagination_class=PageNumberPagination)
    def tags(self, request):
        page = self.paginate_queryset(selectors.tags_for_workspace(workspace=request.workspace))
        return self.get_paginated_response(TagSerializer(page, many=True).data)


urlpatterns: list = []


def register(router) -> None:
    router.register("contacts", ContactViewSet, basename="contact")
