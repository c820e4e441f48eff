"""REST API for accounts, workspaces, invitations and memberships."""

from __future__ import annotations

from django.contrib.auth import authenticate, user_logged_in
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.views import TokenRefreshView

from careops.errors import InvalidInput, LockedOut
from careops.schema import ErrorSerializer
from careops.serializers import row_of
from careops.tenancy import WorkspaceViewSetMixin
from careops.throttling import ScopedRateThrottle
from workspaces import selectors, services
from workspaces.models import Access, Invitation, Membership, User, Workspace
from workspaces.onboarding import onboarding_status

# --- Serializers ------------------------------------------------------------------------------


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "name", "date_joined"]
        read_only_fields = fields


USER_BRIEF_FIELDS = ("id", "name", "email")


class UserBriefSerializer(serializers.ModelSerializer):
    """A person as other apps' resources show them (an assignee, a booking's staff member)."""

    class Meta:
        model = User
        fields = list(USER_BRIEF_FIELDS)
        read_only_fields = fields

    def to_representation(self, user: User) -> dict:
        return row_of(user, USER_BRIEF_FIELDS)


class WorkspaceSerializer(serializers.ModelSerializer):
    my_role = serializers.SerializerMethodField()

    class Meta:
        model = Workspace
        fields = [
            "id",
            "name",
            "slug",
            "timezone",
            "contact_email",
            "contact_phone",
            "address",
            "status",
            "activated_at",
            "my_role",
            "created_at",
        ]
        read_only_fields = ["id", "slug", "status", "activated_at", "my_role", "created_at"]

    def get_my_role(self, workspace: Workspace) -> str | None:
        role = getattr(workspace, "my_role", None)
        if role is None:
            membership = getattr(self.context.get("request"), "membership", None)
            role = membership.role if membership else None
        return role


class WorkspaceBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Workspace
        fields = ["id", "name", "slug", "status"]


class AreaAccessSerializer(serializers.Serializer):
    """Per area: "none", "view" (read only) or "act" (view and act)."""

    inbox = serializers.ChoiceField(choices=Access.choices, required=False)
    bookings = serializers.ChoiceField(choices=Access.choices, required=False)
    forms = serializers.ChoiceField(choices=Access.choices, required=False)
    inventory = serializers.ChoiceField(choices=Access.choices, required=False)


MEMBER_ACCESS_HELP = "What the member may do in each area; an owner acts in every area."


class MyMembershipSerializer(serializers.ModelSerializer):
    workspace = WorkspaceBriefSerializer()
    access = AreaAccessSerializer(source="areas", read_only=True, help_text=MEMBER_ACCESS_HELP)

    class Meta:
        model = Membership
        fields = ["id", "workspace", "role", "access"]


class MeSerializer(UserSerializer):
    memberships = serializers.SerializerMethodField()

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "memberships"]

    @extend_schema_field(MyMembershipSerializer(many=True))
    def get_memberships(self, user: User) -> list[dict]:
        return MyMembershipSerializer(selectors.memberships_for_user(user=user), many=True).data


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class LoginSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class FirstWorkspaceSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    timezone = serializers.CharField(max_length=64, default="UTC")


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(trim_whitespace=False, write_only=True)
    name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    workspace = FirstWorkspaceSerializer(
        required=False, help_text="Create this workspace with the new user as its owner."
    )
    invitation_token = serializers.CharField(
        required=False, help_text="Join the workspace of this invitation instead."
    )

    def validate(self, attrs):
        if attrs.get("workspace") and attrs.get("invitation_token"):
            raise serializers.ValidationError(
                "Either create a workspace or accept an invitation, not both."
            )
        return attrs


class RegisteredSerializer(TokenPairSerializer):
    user = UserSerializer()
    workspace = WorkspaceSerializer(allow_null=True)


class LogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class MembershipSerializer(serializers.ModelSerializer):
    user = UserSerializer()
    access = AreaAccessSerializer(source="areas", help_text=MEMBER_ACCESS_HELP)

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "access", "created_at"]
        read_only_fields = fields


class MembershipAccessSerializer(serializers.Serializer):
    access = AreaAccessSerializer(help_text="The areas to change, each to none, view or act.")


class InvitationSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True)
    invited_by = serializers.EmailField(source="invited_by.email", read_only=True, default=None)
    access = AreaAccessSerializer(
        source="area_access",
        required=False,
        help_text="The areas a staff member starts with, shown when accepting; an area left "
        "out: view and act. Owners have every area whatever this says.",
    )

    class Meta:
        model = Invitation
        fields = [
            "id",
            "email",
            "role",
            "access",
            "status",
            "invited_by",
            "expires_at",
            "sent_at",
            "accepted_at",
            "created_at",
        ]
        read_only_fields = [f for f in fields if f not in ("email", "role", "access")]


class InvitationAcceptSerializer(serializers.Serializer):
    token = serializers.CharField()


class StepSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    required = serializers.BooleanField()
    done = serializers.BooleanField()
    missing = serializers.ListField(child=serializers.CharField())


class OnboardingSerializer(serializers.Serializer):
    status = serializers.CharField()
    ready = serializers.BooleanField(help_text="Every required step is done: activate may go.")
    completed = serializers.IntegerField()
    total = serializers.IntegerField()
    steps = StepSerializer(many=True)


def token_pair(user: User) -> dict[str, str]:
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


# --- Auth ---------------------------------------------------------------------------------------


class AuthThrottled:
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"


class RegisterView(AuthThrottled, APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(request=RegisterSerializer, responses={201: RegisteredSerializer}, tags=["auth"])
    def post(self, request):
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        first = data.get("workspace") or {}
        user, membership = services.user_register(
            email=data["email"],
            password=data["password"],
            name=data["name"],
            workspace_name=first.get("name"),
            workspace_timezone=first.get("timezone", "UTC"),
            invitation_token=data.get("invitation_token"),
        )
        workspace = membership.workspace if membership else None
        body = {
            "user": UserSerializer(user).data,
            "workspace": WorkspaceSerializer(workspace).data if workspace else None,
            **token_pair(user),
        }
        if workspace:
            body["workspace"]["my_role"] = membership.role
        return Response(body, status=status.HTTP_201_CREATED)


class LoginView(AuthThrottled, APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        request=LoginSerializer,
        responses={200: TokenPairSerializer, 401: ErrorSerializer},
        description="Wrong credentials answer 401; repeated failures lock the account from "
        "that address for a while (429, `locked_out`).",
        tags=["auth"],
    )
    def post(self, request):
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # axes records the attempt on (and flags lockouts onto) the Django request.
        http_request = request._request
        user = authenticate(
            http_request,
            email=serializer.validated_data["email"].lower(),
            password=serializer.validated_data["password"],
        )
        if user is None:
            if getattr(http_request, "axes_locked_out", False):
                raise LockedOut()
            raise AuthenticationFailed(
                "Email or password is incorrect.", code="invalid_credentials"
            )
        user_logged_in.send(sender=type(user), request=http_request, user=user)
        return Response(token_pair(user))


class RefreshView(AuthThrottled, TokenRefreshView):
    """Trade a refresh token for a new pair; the old refresh token stops working."""

    @extend_schema(responses={200: TokenPairSerializer, 401: ErrorSerializer}, tags=["auth"])
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class LogoutView(AuthThrottled, APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(request=LogoutSerializer, responses={204: None}, tags=["auth"])
    def post(self, request):
        serializer = LogoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            RefreshToken(serializer.validated_data["refresh"]).blacklist()
        except TokenError:
            raise InvalidInput(fields={"refresh": ["Token is invalid or expired."]}) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: MeSerializer}, tags=["auth"])
    def get(self, request):
        return Response(MeSerializer(request.user).data)


# --- Workspaces ---------------------------------------------------------------------------------


@extend_schema(tags=["workspaces"])
class WorkspaceViewSet(
    WorkspaceViewSetMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The caller's workspaces. Owners change details and activate; staff read."""

    queryset = Workspace.objects.none()
    serializer_class = WorkspaceSerializer
    workspace_url_kwarg = "pk"
    workspace_free_actions = ("list", "create")
    owner_actions = ("partial_update", "update", "activate")
    http_method_names = ["get", "post", "patch", "head", "options"]
    filterset_fields = ["status"]
    ordering_fields = ["name", "created_at"]

    def scoped_queryset(self):
        return selectors.workspaces_for_user(user=self.request.user)

    def get_object(self):
        return self.request.workspace  # resolved and access-checked by WorkspaceAccess

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.workspace_create(owner=self.request.user, **data)
        serializer.instance.my_role = Membership.Role.OWNER

    def perform_update(self, serializer):
        serializer.instance = services.workspace_update(
            workspace=serializer.instance, actor=self.request.user, **serializer.validated_data
        )

    @extend_schema(responses={200: OnboardingSerializer})
    @action(detail=True, methods=["get"])
    def onboarding(self, request, pk=None):
        workspace = request.workspace
        steps = onboarding_status(workspace)
        required = [s for s in steps if s.required]
        return Response(
            OnboardingSerializer(
                {
                    "status": workspace.status,
                    "ready": all(s.done for s in required),
                    "completed": sum(s.done for s in steps),
                    "total": len(steps),
                    "steps": steps,
                }
            ).data
        )

    @extend_schema(
        request=None,
        responses={
            200: WorkspaceSerializer,
            409: inline_serializer(
                "OnboardingIncomplete",
                {
                    "code": serializers.CharField(),
                    "message": serializers.CharField(),
                    "steps": StepSerializer(many=True),
                },
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        workspace = services.workspace_activate(workspace=request.workspace, actor=request.user)
        return Response(self.get_serializer(workspace).data)


@extend_schema(tags=["workspaces"])
class InvitationViewSet(
    WorkspaceViewSetMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Staff invitations (owners only). DELETE revokes an invitation."""

    queryset = Invitation.objects.none()
    serializer_class = InvitationSerializer
    owner_actions = ("*",)
    filterset_fields = ["role"]
    ordering_fields = ["created_at", "email"]

    def scoped_queryset(self):
        return selectors.invitations_for_workspace(workspace=self.request.workspace)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        access = data.pop("area_access", None)
        serializer.instance = services.invitation_create(
            workspace=self.request.workspace, actor=self.request.user, access=access, **data
        )

    def perform_destroy(self, instance):
        services.invitation_revoke(invitation=instance, actor=self.request.user)

    @extend_schema(request=None, responses={200: InvitationSerializer})
    @action(detail=True, methods=["post"])
    def resend(self, request, workspace_pk=None, pk=None):
        invitation = services.invitation_resend(invitation=self.get_object(), actor=request.user)
        return Response(self.get_serializer(invitation).data)


@extend_schema(tags=["workspaces"])
@extend_schema_view(
    destroy=extend_schema(
        responses={
            204: None,
            409: OpenApiResponse(
                ErrorSerializer,
                description="`conflict`: the workspace's last owner cannot be removed.",
            ),
        }
    )
)
class MembershipViewSet(
    WorkspaceViewSetMixin, mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """The workspace's members. Owners open and close areas to staff (PATCH `access`) and
    remove members; a workspace keeps one owner at least."""

    queryset = Membership.objects.none()
    serializer_class = MembershipSerializer
    owner_actions = ("destroy", "partial_update")
    filterset_fields = ["role"]
    ordering_fields = ["created_at"]

    def scoped_queryset(self):
        return selectors.memberships_for_workspace(workspace=self.request.workspace)

    @extend_schema(request=MembershipAccessSerializer, responses={200: MembershipSerializer})
    def partial_update(self, request, workspace_pk=None, pk=None):
        """Open or close areas to a staff member: the areas named change, the others stay."""
        membership = self.get_object()
        serializer = MembershipAccessSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.membership_access_update(
            membership=membership, actor=request.user, access=serializer.validated_data["access"]
        )
        return Response(MembershipSerializer(membership).data)

    def perform_destroy(self, instance):
        services.membership_remove(membership=instance, actor=self.request.user)


class InvitationAcceptView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=InvitationAcceptSerializer,
        responses={200: MyMembershipSerializer},
        tags=["workspaces"],
    )
    def post(self, request):
        serializer = InvitationAcceptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation = services.invitation_from_token(serializer.validated_data["token"])
        membership = services.invitation_accept(invitation=invitation, user=request.user)
        return Response(MyMembershipSerializer(membership).data)
