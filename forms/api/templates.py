"""REST API of form templates: owners design them, staff read them. Writes go through
forms.services, which validates the field definitions (errors named `fields.<i>.<property>`)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from bookings.models import BookingType
from careops.pagination import PageNumberPagination
from careops.serializers import QueryParamsSerializer
from careops.tenancy import WorkspaceViewSetMixin
from forms import selectors, services
from forms.fields import FIELD_TYPES, MAX_FIELDS
from forms.models import FormTemplate
from forms.services.templates import MAX_DUE_HOURS

# --- Serializers ------------------------------------------------------------------------------


class FieldDefinitionSerializer(serializers.Serializer):
    """One field of a form, as stored (see forms/fields.py). For the schema: input is checked
    by the service, which names each bad property."""

    key = serializers.RegexField(
        r"^[a-z][a-z0-9_]{0,63}$",
        required=False,
        help_text="Unique in the form. Left out: made from the label (`notes`, `notes_2`).",
    )
    type = serializers.ChoiceField(choices=list(FIELD_TYPES.items()))
    label = serializers.CharField(max_length=200)
    help_text = serializers.CharField(max_length=500, required=False, allow_blank=True)
    required = serializers.BooleanField(required=False, default=False)
    choices = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        help_text="single_choice and multiple_choice only: 1-50 distinct labels.",
    )
    maps_to = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text='Prefill from the contact: "", "name", "email", "phone" or "custom.<key>".',
    )


@extend_schema_field(FieldDefinitionSerializer(many=True))
class FieldDefinitionsField(serializers.JSONField):
    """Any JSON in (the service checks it, property by property), the stored list out."""


class FormBookingTypeSerializer(serializers.ModelSerializer):
    """A service that sends the form: its id and name."""

    class Meta:
        model = BookingType
        fields = ["id", "name"]


class FormTemplateSerializer(serializers.ModelSerializer):
    booking_types = FormBookingTypeSerializer(many=True, read_only=True)
    booking_type_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        write_only=True,
        required=False,
        help_text="The services whose bookings are sent this form (replaces the list).",
    )
    submission_count = serializers.IntegerField(
        read_only=True, help_text="Submissions sent of this form, any version."
    )

    class Meta:
        model = FormTemplate
        fields = [
            "id",
            "name",
            "description",
            "fields",
            "version",
            "is_active",
            "archived_at",
            "due_hours",
            "booking_types",
            "booking_type_ids",
            "submission_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "version", "archived_at", "created_at", "updated_at"]
        extra_kwargs = {
            "name": {"max_length": None, "help_text": "Unique among the live forms."},
            "due_hours": {"max_value": MAX_DUE_HOURS, "min_value": 1},
        }
        # Uniqueness is the service's to check, with a field message; the constraint backs it.
        validators: list = []

    def get_fields(self):
        # `fields` is also the name of the serializer's own mapping, so it cannot be declared
        # as a class attribute: it is swapped in here.
        declared = super().get_fields()
        declared["fields"] = FieldDefinitionsField(
            required=False,
            help_text=f"The ordered fields (at most {MAX_FIELDS}); a change bumps `version`.",
        )
        return declared


class TemplateListFilterSerializer(QueryParamsSerializer):
    include_archived = serializers.BooleanField(
        required=False, default=False, help_text="Also list archived forms (after the live ones)."
    )


# --- Views ------------------------------------------------------------------------------------


@extend_schema(tags=["forms"])
class FormTemplateViewSet(
    WorkspaceViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Intake forms the business sends to clients, by hand or with bookings of their services.
    Archived forms keep their submissions and cannot be changed."""

    queryset = FormTemplate.objects.none()
    serializer_class = FormTemplateSerializer
    pagination_class = PageNumberPagination
    owner_actions = ("create", "partial_update", "archive")
    http_method_names = ["get", "post", "patch", "head", "options"]
    lookup_value_regex = "[0-9]+"
    filter_backends: list = []  # the list's one filter is TemplateListFilterSerializer's

    def scoped_queryset(self):
        return selectors.templates_for_workspace(workspace=self.request.workspace)

    def get_object(self) -> FormTemplate:
        return selectors.template_get(workspace=self.request.workspace, pk=self.kwargs["pk"])

    def _detail(self, template: FormTemplate, status_code: int = status.HTTP_200_OK) -> Response:
        """The template as `retrieve` shows it, read again after a write."""
        fresh = selectors.template_get(workspace=self.request.workspace, pk=template.pk)
        return Response(self.get_serializer(fresh).data, status=status_code)

    @extend_schema(parameters=[TemplateListFilterSerializer])
    def list(self, request):
        filters = TemplateListFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        templates = selectors.templates_for_workspace(
            workspace=request.workspace,
            include_archived=filters.validated_data["include_archived"],
        )
        page = self.paginate_queryset(templates)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def create(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        template = services.template_create(
            workspace=request.workspace, actor=request.user, **serializer.validated_data
        )
        return self._detail(template, status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        template = self.get_object()
        serializer = self.get_serializer(template, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        template = services.template_update(
            template=template, actor=request.user, **serializer.validated_data
        )
        return self._detail(template)

    @extend_schema(request=None, responses={200: FormTemplateSerializer})
    @action(detail=True, methods=["post"])
    def archive(self, request, pk=None):
        """Archive: inactive, out of the default list, submissions kept. Idempotent."""
        template = services.template_archive(template=self.get_object(), actor=request.user)
        return self._detail(template)


urlpatterns: list = []


def register(router) -> None:
    router.register("forms/templates", FormTemplateViewSet, basename="form-template")
