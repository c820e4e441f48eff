"""The client's POST /forms/submissions, by the token of their link: no sign-in; the answers are
checked against the form they were sent. The staff's actions on submissions (submissions.py)
share the viewset, which takes this mixin."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from careops import rls
from careops.errors import InvalidInput
from careops.parsers import loads_json
from careops.ratelimit import client_ip
from forms.intake import (
    UploadTooLarge,
    api_file_fields,
    limit_upload,
    submission_allowed,
    too_large_message,
    upload_refused,
)
from forms.services import submission_from_token, submission_submit

FILE_PART_PREFIX = "files."


@extend_schema_field(OpenApiTypes.OBJECT)
class AnswersField(serializers.Field):
    """{field key: answer}: a JSON object, or (in a multipart body) a string holding one."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            try:
                data = loads_json(data)  # a nesting too deep is a ValueError too
            except ValueError:
                raise serializers.ValidationError("Give the answers as a JSON object.") from None
        if not isinstance(data, dict):
            raise serializers.ValidationError("Give the answers as an object.")
        return data

    def to_representation(self, value):
        return value


class PublicSubmissionSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=500, help_text="The token of the client's link.")
    answers = AnswersField(
        required=False,
        default=dict,
        help_text="{field key: answer}. Text, email, phone, number (a JSON number or a string), "
        "date (YYYY-MM-DD) and single choice: a string; multiple choice: a list of labels; "
        "checkbox: true/false; signature: the full name typed. In a multipart body, this "
        "part holds the object as a JSON string.",
    )


class SubmissionDoneSerializer(serializers.Serializer):
    status = serializers.CharField()
    completed_at = serializers.DateTimeField()
    form = serializers.CharField(help_text="The form's name.")
    signed_name = serializers.CharField(allow_blank=True)
    signed_at = serializers.DateTimeField(allow_null=True)
    answers_sha256 = serializers.CharField(
        help_text="SHA-256 of the canonical JSON of the answers and the files' SHA-256s."
    )


class PublicSubmissionThrottle(BaseThrottle):
    """Per address, at the `form_submission` rate, whoever is signed in (a form is a
    stranger's write, made with the link's token): the public page's own limit, one counter
    for both (forms/intake.py)."""

    def allow_request(self, request, view) -> bool:
        return submission_allowed(request)

    def wait(self) -> float | None:
        return None


def uploaded_files(request) -> dict:
    """The multipart parts named `files.<field key>`, by field key."""
    return {
        name.removeprefix(FILE_PART_PREFIX): upload
        for name, upload in request.FILES.items()
        if name.startswith(FILE_PART_PREFIX)
    }


class PublicSubmissionCreateMixin:
    """`create` (the client's, by token) for the submissions viewset: no authentication, no
    workspace header, the per-address limit; the other actions keep the viewset's rules."""

    # The client's create acts in the workspace its token names, never X-Workspace-ID's.
    workspace_free_actions = ("create",)

    def get_permissions(self):
        if self.action == "create":
            return [AllowAny()]
        return super().get_permissions()

    def get_throttles(self):
        if self.action == "create":
            return [PublicSubmissionThrottle()]
        return super().get_throttles()

    def get_authenticators(self):
        # The client's POST carries its authority in the token; a stale bearer token sent
        # along by a browser app must not turn it into a 401. (`action` is not set yet
        # here: the route's map from method to action says it.)
        request = getattr(self, "request", None)
        action_map = getattr(self, "action_map", None) or {}
        if request is not None and action_map.get(request.method.lower()) == "create":
            return []
        return super().get_authenticators()

    @extend_schema(
        tags=["client forms"],
        request={
            "application/json": PublicSubmissionSerializer,
            "multipart/form-data": inline_serializer(
                "PublicSubmissionMultipart",
                {
                    "token": serializers.CharField(),
                    "answers": serializers.CharField(help_text="The answers as a JSON string."),
                    "files.<field key>": serializers.FileField(
                        required=False,
                        help_text="One part per file field, named `files.` + the field's key.",
                    ),
                },
            ),
        },
        responses={
            201: SubmissionDoneSerializer,
            400: OpenApiResponse(
                description="`validation_error` with `fields` named `answers.<field key>` "
                "(files too: a too-large file or a type not accepted, judged by its content); "
                "`link_invalid` (`reason`: `invalid` or `expired`) for a forged, revoked or "
                "expired token; `upload_too_large` when the files sent are larger than a form "
                "can take (the body is not read past that)."
            ),
            409: OpenApiResponse(description="`already_submitted`: a form is sent once."),
            429: OpenApiResponse(description="Too many submissions from this address."),
        },
        description=(
            "The client's answers to the form their link names, sent once. JSON "
            '(`{"token": ..., "answers": {...}}`) or, to attach files, multipart: a `token` '
            "part, an `answers` part holding the JSON object, and a part per file field named "
            f"`files.<field key>` (at most {settings.FORM_UPLOAD_MAX_BYTES // (1024 * 1024)} "
            f"MB; {', '.join(settings.FORM_UPLOAD_CONTENT_TYPES)}). Unknown keys are ignored. "
            "No sign-in; rate limited per address. Answers no internal ids."
        ),
    )
    def create(self, request):
        # The token is in the body, so the form is not known yet: the cap allows the most
        # file fields a form may have (forms/intake.py).
        limit_upload(request._request, file_fields=api_file_fields())
        posted = request.data  # DRF's parsers read the body through the handlers
        if upload_refused(request._request):
            raise UploadTooLarge(too_large_message())
        serializer = PublicSubmissionSerializer(data=posted)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        submission = submission_from_token(data["token"])
        rls.narrow(submission.workspace_id)
        if not isinstance(data["answers"], dict):
            raise InvalidInput(fields={"answers": ["Give the answers as an object."]})
        submission = submission_submit(
            submission=submission,
            data=data["answers"],
            files=uploaded_files(request),
            ip=client_ip(request),
        )
        body = {
            "status": submission.status,
            "completed_at": submission.completed_at,
            "form": submission.template_name,
            "signed_name": submission.signed_name,
            "signed_at": submission.signed_at,
            "answers_sha256": submission.answers_sha256,
        }
        return Response(SubmissionDoneSerializer(body).data, status=status.HTTP_201_CREATED)
