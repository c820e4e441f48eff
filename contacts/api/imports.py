"""CSV import and export of contacts: POST /contacts/import and GET /contacts/export.

These are plain paths, listed before the router's, so that "import" and "export" are never read
as a contact id.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from careops.errors import InvalidInput
from careops.tenancy import WorkspaceAccess
from contacts.csv_export import contacts_export_response
from contacts.csv_import import MAX_BYTES, MAX_ROWS, contacts_import_csv
from contacts.models import Contact


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text=(
            f"A UTF-8 CSV file of at most {MAX_ROWS:,} rows and {MAX_BYTES // 2**20} MB. Columns: "
            "name (or first_name and last_name), email, phone, tags (separated by ; or |), notes, "
            "email_consent, sms_consent (yes/no); any other column becomes a custom field."
        )
    )


class RejectedRowSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="The row number as a spreadsheet shows it.")
    reason = serializers.CharField()


class ImportReportSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    rejected = RejectedRowSerializer(many=True)
    total = serializers.IntegerField(help_text="Rows with data in the file.")


class ContactImportView(APIView):
    """Owners and staff import contacts; the file is refused as a whole when unreadable."""

    permission_classes = [WorkspaceAccess]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": ImportUploadSerializer},
        responses={200: ImportReportSerializer},
        tags=["contacts"],
        summary="Import contacts from a CSV file",
        description=(
            "Upserts by email, then phone. Bad rows are rejected with their row number and "
            "reason, the others are stored together in one transaction. A file that cannot be "
            "read as CSV answers 400 with `fields.file` and stores nothing."
        ),
    )
    def post(self, request):
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInput(fields={"file": ["Choose a CSV file to upload."]})
        report = contacts_import_csv(workspace=request.workspace, actor=request.user, file=upload)
        return Response(ImportReportSerializer(report.as_dict()).data)


class FirstRendererNegotiation(BaseContentNegotiation):
    """The export streams its own text/csv body whatever the Accept header asks; the renderer
    serves only the errors, as JSON. (DRF would otherwise refuse `Accept: text/csv` with 406.)"""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ContactExportView(APIView):
    permission_classes = [WorkspaceAccess]
    content_negotiation_class = FirstRendererNegotiation

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="Search in name, email and phone."),
            OpenApiParameter("tag", str, description="Only contacts with this tag."),
            OpenApiParameter("source", str, enum=Contact.Source.values),
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description=(
                    "Columns id, name, email, phone, source, tags, notes, email_consent, "
                    "sms_consent, created_at, custom_fields (JSON). Cells that a spreadsheet "
                    "would run as a formula start with a single quote."
                ),
            )
        },
        tags=["contacts"],
        summary="Export the (filtered) contact list as CSV",
    )
    def get(self, request):
        params = request.query_params
        return contacts_export_response(
            workspace=request.workspace,
            q=params.get("q", ""),
            tag=params.get("tag", ""),
            source=params.get("source", ""),
        )


urlpatterns = [
    path("contacts/import", ContactImportView.as_view(), name="contact-import"),
    path("contacts/export", ContactExportView.as_view(), name="contact-export"),
]


def register(router) -> None:
    """Nothing for the router: these views live in urlpatterns, ahead of its contacts/{id}."""
