"""Form submissions in the API: the staff's actions (list, detail, send, resend, a file). POST
/forms/submissions is the client's, by the token of their link: public.py, mixed into the same
viewset."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from bookings.models import Booking
from careops.errors import NotFound
from careops.parsers import JSONParser
from careops.serializers import QueryParamsSerializer
from careops.tenancy import WorkspaceViewSetMixin
from contacts.api.contacts import ContactBriefSerializer
from contacts.models import Contact
from forms import selectors
from forms.api.public import PublicSubmissionCreateMixin
from forms.fields import FIELD_TYPES
from forms.files import OCTET_STREAM, SERVED_CONTENT_TYPES, upload_response
from forms.models import FormSubmission, FormTemplate
from forms.services import form_send_once, submission_link, submission_resend
from messaging.models import Channel
from workspaces.api import UserBriefSerializer

# --- The staff's serializers ------------------------------------------------------------------


class TemplateBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="template_id")
    name = serializers.CharField(source="template_name", help_text="As it was when sent.")
    version = serializers.IntegerField(source="template_version")


class BookingBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Booking
        fields = ["id", "start", "end", "status"]
        read_only_fields = fields


class SubmissionSerializer(serializers.ModelSerializer):
    template = TemplateBriefSerializer(source="*", read_only=True)
    contact = ContactBriefSerializer(read_only=True)
    booking = BookingBriefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = FormSubmission
        fields = [
            "id",
            "template",
            "contact",
            "booking",
            "status",
            "source",
            "sent_at",
            "due_at",
            "overdue_at",
            "completed_at",
        ]
        read_only_fields = fields


class UploadSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    field_key = serializers.CharField()
    name = serializers.CharField(source="original_name", help_text="The client's file name.")
    content_type = serializers.CharField()
    size = serializers.IntegerField(help_text="Bytes.")
    sha256 = serializers.CharField()
    download_url = serializers.SerializerMethodField(
        help_text="Staff only: GET it with the same authorization as this request."
    )

    def get_download_url(self, upload) -> str:
        path = reverse("form-submission-file", args=[upload.submission_id, upload.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class AnswerSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    type = serializers.ChoiceField(choices=list(FIELD_TYPES))
    value = serializers.JSONField(
        allow_null=True,
        help_text="As stored: text, a number, a list of choices, true/false; a file field's "
        "upload id; a signature field's typed name. Null when not answered.",
    )
    display = serializers.CharField(help_text="The answer as it reads ('' when not answered).")
    file = UploadSerializer(source="upload", allow_null=True)


class SignatureSerializer(serializers.Serializer):
    signed_name = serializers.CharField()
    signed_at = serializers.DateTimeField()
    signed_ip = serializers.IPAddressField(allow_null=True)
    answers_sha256 = serializers.CharField(
        help_text='SHA-256 of {"answers": ..., "files": {field key: sha256}} as canonical JSON.'
    )


class SubmissionDetailSerializer(SubmissionSerializer):
    sent_by = UserBriefSerializer(read_only=True, allow_null=True)
    answers = serializers.SerializerMethodField()
    uploads = UploadSerializer(many=True, read_only=True)
    signature = serializers.SerializerMethodField()

    class Meta(SubmissionSerializer.Meta):
        fields = [
            *SubmissionSerializer.Meta.fields,
            "sent_by",
            "submitted_ip",
            "answers",
            "uploads",
            "signature",
        ]
        read_only_fields = fields

    @extend_schema_field(AnswerSerializer(many=True))
    def get_answers(self, submission: FormSubmission) -> list[dict]:
        answers = selectors.submission_answers(submission)
        return AnswerSerializer(answers, many=True, context=self.context).data

    @extend_schema_field(SignatureSerializer(allow_null=True))
    def get_signature(self, submission: FormSubmission) -> dict | None:
        if submission.signed_at is None:
            return None
        return SignatureSerializer(submission).data


class SubmissionSentSerializer(SubmissionDetailSerializer):
    link = serializers.SerializerMethodField(
        help_text="The client's link (also sent to them, with `deliver`). A new one revokes "
        "the ones before."
    )

    class Meta(SubmissionDetailSerializer.Meta):
        fields = [*SubmissionDetailSerializer.Meta.fields, "link"]
        read_only_fields = fields

    def get_link(self, submission: FormSubmission) -> str:
        return submission_link(submission)


class SubmissionFilterSerializer(QueryParamsSerializer):
    status = serializers.ChoiceField(choices=FormSubmission.Status.choices, required=False)
    contact = serializers.IntegerField(min_value=1, required=False, help_text="A contact's id.")
    booking = serializers.IntegerField(min_value=1, required=False, help_text="A booking's id.")
    template = serializers.IntegerField(min_value=1, required=False, help_text="A form's id.")


class SendSerializer(serializers.Serializer):
    template = serializers.IntegerField(min_value=1, help_text="The form's (template's) id.")
    contact_id = serializers.IntegerField(min_value=1)
    booking_id = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        default=None,
        help_text="The contact's booking the form is for: sent once per booking.",
    )
    channel = serializers.ChoiceField(
        choices=Channel.choices,
        required=False,
        allow_null=True,
        default=None,
        help_text="Default: the channel the contact last wrote on, then email, then SMS.",
    )
    deliver = serializers.BooleanField(
        required=False,
        default=True,
        help_text="false: create the submission and answer its link without messaging the "
        "client (to hand the link over some other way).",
    )


class ResendSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(
        choices=Channel.choices, required=False, allow_null=True, default=None
    )


class FormSubmissionViewSet(
    PublicSubmissionCreateMixin, WorkspaceViewSetMixin, viewsets.GenericViewSet
):
    """Forms sent to clients. `create` is the client's (by token, no sign-in); the other
    actions are the workspace's staff's."""

    queryset = FormSubmission.objects.none()
    # What OPTIONS describes (DRF's metadata builds one); each action names its own.
    serializer_class = SubmissionSerializer
    lookup_value_regex = "[0-9]+"
    filter_backends: list = []
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def scoped_queryset(self):
        return FormSubmission.objects.for_workspace(self.request.workspace)

    def _submission(self, pk) -> FormSubmission:
        return selectors.submission_get(workspace=self.request.workspace, pk=pk)

    def _detail(self, submission, serializer=SubmissionDetailSerializer, status_code=200):
        """The submission as `retrieve` shows it, read again after a write."""
        fresh = self._submission(submission.pk)
        data = serializer(fresh, context=self.get_serializer_context()).data
        return Response(data, status=status_code)

    @extend_schema(
        tags=["forms"],
        parameters=[SubmissionFilterSerializer],
        responses={200: SubmissionSerializer(many=True)},
        description="The workspace's forms sent to clients, newest sent first.",
    )
    def list(self, request):
        filters = SubmissionFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        submissions = selectors.submissions_for_workspace(
            workspace=request.workspace,
            status=data.get("status"),
            contact=data.get("contact"),
            booking=data.get("booking"),
            template=data.get("template"),
        )
        page = self.paginate_queryset(submissions)
        return self.get_paginated_response(SubmissionSerializer(page, many=True).data)

    @extend_schema(
        tags=["forms"],
        responses={200: SubmissionDetailSerializer},
        description="One submission: each answer with its field's label and type (in the "
        "order of the form as it was sent), the files' records with their download URLs, "
        "and the signature record once signed.",
    )
    def retrieve(self, request, pk=None):
        return Response(
            SubmissionDetailSerializer(
                self._submission(pk), context=self.get_serializer_context()
            ).data
        )

    @extend_schema(
        tags=["forms"],
        request=SendSerializer,
        responses={
            201: SubmissionSentSerializer,
            200: OpenApiResponse(
                SubmissionSentSerializer,
                description="The booking had already been sent this form: that submission.",
            ),
            400: OpenApiResponse(
                description="`validation_error`: an inactive form, a booking of another "
                "contact; `no_channel` (field `channel`) for a contact who cannot be reached."
            ),
            404: OpenApiResponse(description="No such form, contact or booking here."),
        },
        description="Send a form to a contact by hand: a pending submission, and (with "
        "`deliver`) a message carrying its link. Answers the submission and its `link`.",
    )
    @action(detail=False, methods=["post"])
    def send(self, request):
        serializer = SendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        workspace = request.workspace
        template = FormTemplate.objects.for_workspace(workspace).filter(pk=data["template"]).first()
        if template is None:
            raise NotFound("Form not found.")
        contact = Contact.objects.for_workspace(workspace).filter(pk=data["contact_id"]).first()
        if contact is None:
            raise NotFound("Contact not found.")
        booking = None
        if data["booking_id"] is not None:
            booking = Booking.objects.for_workspace(workspace).filter(pk=data["booking_id"]).first()
            if booking is None:
                raise NotFound("Booking not found.")
        submission, created = form_send_once(
            workspace=workspace,
            template=template,
            contact=contact,
            booking=booking,
            actor=request.user,
            channel=data["channel"],
            deliver=data["deliver"],
            source=FormSubmission.Source.API,
        )
        return self._detail(
            submission,
            SubmissionSentSerializer,
            status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        tags=["forms"],
        request=ResendSerializer,
        responses={
            200: SubmissionSentSerializer,
            409: OpenApiResponse(description="`conflict`: the form is completed."),
        },
        description="Send a pending or overdue form's client a fresh link; the links sent "
        "before stop working.",
    )
    @action(detail=True, methods=["post"])
    def resend(self, request, pk=None):
        submission = self._submission(pk)
        serializer = ResendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        submission = submission_resend(
            submission=submission, actor=request.user, channel=serializer.validated_data["channel"]
        )
        return self._detail(submission, SubmissionSentSerializer)

    @extend_schema(
        tags=["forms"],
        responses={
            (200, content_type): OpenApiTypes.BINARY
            for content_type in sorted({*SERVED_CONTENT_TYPES, OCTET_STREAM})
        },
        description="A file the client attached, as an attachment under its original name: "
        "as its type when it is a document or a picture, otherwise as bytes to save.",
    )
    @action(detail=True, methods=["get"], url_path=r"files/(?P<upload_pk>[0-9]+)", url_name="file")
    def file(self, request, pk=None, upload_pk=None):
        upload = selectors.upload_get(workspace=request.workspace, submission=pk, pk=upload_pk)
        return upload_response(upload)


def register(router) -> None:
    router.register("forms/submissions", FormSubmissionViewSet, basename="form-submission")


urlpatterns: list = []
