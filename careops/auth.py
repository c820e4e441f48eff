"""API authentication: simplejwt's bearer tokens, with the caller's membership of the workspace
the request names read in the same query as the user.

Every workspace-scoped API request reads the token's user and then its membership of the
`X-Workspace-ID` workspace, or without the header their only membership (careops.tenancy).
One query reads both: the membership (or the first two) joined to its user and workspace
(workspaces.selectors.memberships_with_user, its SQL written once per process). The
user gets the same checks simplejwt makes (active, token not revoked by a password change);
tenancy then takes the membership (or its absence) from the request instead of asking again.
A user with no membership, or none of the named workspace, is read the usual way.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.utils import get_md5_hash_password


class JWTAuthentication(authentication.JWTAuthentication):
    def authenticate(self, request):
        # DRF makes an authenticator per request: holding the request here is safe.
        self.request = request
        return super().authenticate(request)

    def get_user(self, validated_token):
        # Imported here: DRF imports this module while the apps' models are still loading.
        from careops.tenancy import (
            WORKSPACE_HEADER,
            remember_authenticated_membership,
            remember_user_memberships,
        )
        from workspaces.selectors import memberships_with_user

        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as e:
            raise InvalidToken(_("Token contained no recognizable user identification")) from e
        request = getattr(self, "request", None)
        if request is None:
            return super().get_user(validated_token)
        try:
            user_key = self.user_model._meta.get_field(api_settings.USER_ID_FIELD).to_python(
                user_id
            )
        except ValidationError as e:
            raise InvalidToken(_("Token contained no recognizable user identification")) from e
        workspace_id = _workspace_id(request.headers.get(WORKSPACE_HEADER))
        found = memberships_with_user(
            user_field=api_settings.USER_ID_FIELD, user_key=user_key, workspace_id=workspace_id
        )
        if workspace_id is None:
            # No workspace named: the first two memberships (one is then the workspace).
            if not found:
                return super().get_user(validated_token)
            user = self._checked(found[0].user, validated_token)
            remember_user_memberships(request, user, found)
            return user
        membership = found[0] if found else None
        if membership is None:
            user = super().get_user(validated_token)
            remember_authenticated_membership(request, user, workspace_id, None)
            return user
        user = self._checked(membership.user, validated_token)
        remember_authenticated_membership(request, user, workspace_id, membership)
        return user

    @staticmethod
    def _checked(user, validated_token):
        """simplejwt's own checks of the user it reads (JWTAuthentication.get_user)."""
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        if api_settings.CHECK_REVOKE_TOKEN and validated_token.get(
            api_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise AuthenticationFailed(
                _("The user's password has been changed."), code="password_changed"
            )
        return user


def _workspace_id(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class JWTScheme(SimpleJWTScheme):
    """The schema's `jwtAuth` security scheme, as for simplejwt's own class."""

    target_class = "careops.auth.JWTAuthentication"
