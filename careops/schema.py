"""OpenAPI generation: every operation documents its auth, workspace header and errors."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema as BaseAutoSchema
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


ERROR_DESCRIPTIONS = {
    "400": "Invalid input; `fields` names each field and what is wrong with it.",
    "401": "Missing, invalid or expired access token.",
    "403": "Signed in, but this role may not do this.",
    "404": "Not found, or in another workspace.",
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

    def _error_codes(self) -> list[str]:
        codes = []
        has_body = self.method in ("POST", "PUT", "PATCH")
        if has_body or self._is_list_view() or self._uses_workspace_context():
            codes.append("400")
        if not self._is_public():
            codes.append("401")
            if self._uses_workspace_context():
                codes.append("403")
        if "{" in self.path or self._uses_workspace_context():
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
