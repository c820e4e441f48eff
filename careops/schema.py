"""OpenAPI generation: every operation documents its auth, workspace header and errors."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema as BaseAutoSchema
from drf_spectacular.plumbing import append_meta
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from careops.tenancy import WORKSPACE_HEADER, WorkspaceAccess


class ErrorFieldSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    """The one error shape of the API."""

    code = serializers.CharField(help_text="Machine-readable error code, e.g. `validation_error`.")
    message = serializers.CharField(help_text="A sentence for people.")
    fields = serializers.DictField(
        child=ErrorFieldSerializer(many=True),
        required=False,
        help_text="For invalid input: each field (dotted when nested) and its errors.",
    )


# A time of day on a wall clock (opening hours, quiet hours), as DRF writes and reads it:
# "09:00:00", "09:00", "12:27:41.900000". Not JSON Schema's `time`, which is RFC 3339's
# full-time and needs an offset ("09:00:00Z"): these times have none, the workspace's time zone
# applies to them.
WALL_CLOCK_TIME = {
    "type": "string",
    "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$",
    "example": "09:30:00",
}

ERROR_DESCRIPTIONS = {
    "400": "Invalid input; `fields` names each field and what is wrong with it.",
    "401": "Missing, invalid or expired access token.",
    "403": "Signed in, but this role may not do this.",
    "404": "Not found, or in another workspace; for a list, a page past the last one.",
    "415": "The body is not JSON.",
    "429": "Too many requests; `Retry-After` says when to try again.",
}


class AutoSchema(BaseAutoSchema):
    def _uses_workspace_context(self) -> bool:
        if not any(p is WorkspaceAccess for p in self.view.permission_classes):
            return False
        action = getattr(self.view, "action", None)
        return action not in getattr(self.view, "workspace_free_actions", ())

    def _is_public(self) -> bool:
        return any(p is AllowAny for p in self.view.permission_classes)

    def get_override_parameters(self):
        params = list(super().get_override_parameters())
        kwarg = getattr(self.view, "workspace_url_kwarg", "workspace_pk")
        kwarg = "id" if kwarg == "pk" else kwarg  # spectacular writes {pk} as {id}
        if self._uses_workspace_context() and "{" + kwarg + "}" not in self.path:
            params.append(
                OpenApiParameter(
                    WORKSPACE_HEADER,
                    int,
                    OpenApiParameter.HEADER,
                    required=False,
                    description=(
                        "The workspace to act on. Optional when the caller belongs to exactly "
                        "one workspace; a workspace the caller does not belong to answers 404."
                    ),
                )
            )
        return params

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        if isinstance(field, serializers.TimeField):
            meta = self._get_serializer_field_meta(field, direction)
            return append_meta(dict(WALL_CLOCK_TIME), meta)
        return super()._map_serializer_field(field, direction, bypass_extensions)

    def _error_codes(self) -> list[str]:
        codes = []
        has_body = self.method in ("POST", "PUT", "PATCH")
        if has_body or self._is_list_view() or self._uses_workspace_context():
            codes.append("400")
        if not self._is_public():
            codes.append("401")
            if self._uses_workspace_context():
                codes.append("403")
        paged_list = (
            self.method == "GET" and self._is_list_view() and self._get_paginator() is not None
        )
        if "{" in self.path or self._uses_workspace_context() or paged_list:
            codes.append("404")
        if has_body:
            codes.append("415")
        if self.view.get_throttles():
            codes.append("429")
        return codes

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self._error_codes():
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                response["description"] = ERROR_DESCRIPTIONS[code]
                responses[code] = response
        return responses
