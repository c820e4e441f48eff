"""Writes for accounts, workspaces, memberships and invitations."""

from __future__ import annotations

import structlog
from django.conf import settings
from django.contrib.auth import password_validation
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from careops.errors import Conflict, Forbidden, InvalidInput
from careops.queue import enqueue_on_commit
from workspaces.models import (
    Access,
    Area,
    Invitation,
    Membership,
    User,
    Workspace,
    WorkspaceDeactivated,
    access_fields,
    normalize_email,
)
from workspaces.onboarding import unmet_required_steps

log = structlog.get_logger(__name__)

INVITATION_SALT = "careops.workspaces.invitation"
WORKSPACE_FIELDS = ("name", "timezone", "contact_email", "contact_phone", "address")


def _validation_to_fields(error: ValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {
            field: [m for e in errs for m in e.messages] for field, errs in error.error_dict.items()
        }
    return {"non_field_errors": error.messages}


# --- Users ------------------------------------------------------------------------------------


def user_register(
    *,
    email: str,
    password: str,
    name: str = "",
    workspace_name: str | None = None,
    workspace_timezone: str = "UTC",
    invitation_token: str | None = None,
) -> tuple[User, Membership | None]:
    """Create an account; with `workspace_name` also its first workspace (as owner), with an
    invitation token also the invited membership. Returns the user and that membership."""
    email = normalize_email(email)
    if User.objects.filter(email=email).exists():
        raise InvalidInput(fields={"email": ["An account with this email already exists."]})
    candidate = User(email=email, name=name)
    try:
        password_validation.validate_password(password, user=candidate)
    except ValidationError as exc:
        raise InvalidInput(fields={"password": exc.messages}) from None
    invitation = invitation_from_token(invitation_token) if invitation_token else None
    with transaction.atomic():
        user = User.objects.create_user(email=email, password=password, name=name)
        membership = None
        if invitation is not None:
            membership = invitation_accept(invitation=invitation, user=user)
        elif workspace_name:
            workspace = workspace_create(
                owner=user, name=workspace_name, timezone=workspace_timezone
            )
            membership = workspace.memberships.get(user=user)
    log.info("user_registered", user_id=user.pk, with_workspace=membership is not None)
    return user, membership


# --- Workspaces -------------------------------------------------------------------------------


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "workspace"
    slug, n = base, 1
    while Workspace.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def workspace_create(*, owner: User, name: str, timezone: str = "UTC", **details: str) -> Workspace:
    """Create a draft workspace with `owner` as its first owner."""
    workspace = Workspace(name=name.strip(), timezone=timezone, **details)
    workspace.slug = _unique_slug(workspace.name)
    try:
        workspace.full_clean()
    except ValidationError as exc:
        raise InvalidInput(fields=_validation_to_fields(exc)) from None
    with transaction.atomic():
        workspace.save()
        Membership.objects.create(workspace=workspace, user=owner, role=Membership.Role.OWNER)
    log.info("workspace_created", workspace_id=workspace.pk, owner_id=owner.pk)
    return workspace


def workspace_update(*, workspace: Workspace, actor: User, **changes: str) -> Workspace:
    """Change a workspace's business details (owners only; checked by the caller's access)."""
    unknown = set(changes) - set(WORKSPACE_FIELDS)
    if unknown:
        raise InvalidInput(fields={name: ["This field cannot be changed."] for name in unknown})
    for field, value in changes.items():
        setattr(workspace, field, value.strip() if isinstance(value, str) else value)
    try:
        workspace.full_clean()
    except ValidationError as exc:
        raise InvalidInput(fields=_validation_to_fields(exc)) from None
    workspace.save(update_fields=[*changes, "updated_at"])
    log.info("workspace_updated", workspace_id=workspace.pk, fields=sorted(changes), actor=actor.pk)
    return workspace


class OnboardingIncomplete(Conflict):
    code = "onboarding_incomplete"
    default_message = "The workspace cannot go live yet: some setup steps are not done."


def workspace_activate(*, workspace: Workspace, actor: User) -> Workspace:
    """Put the workspace live, once every required onboarding step is done."""
    if workspace.is_active:
        return workspace
    if workspace.is_deactivated:
        raise WorkspaceDeactivated()
    unmet = unmet_required_steps(workspace)
    if unmet:
        raise OnboardingIncomplete(
            extra={"steps": [{"key": s.key, "title": s.title, "missing": s.missing} for s in unmet]}
        )
    workspace.status = Workspace.Status.ACTIVE
    workspace.activated_at = timezone.now()
    workspace.save(update_fields=["status", "activated_at", "updated_at"])
    log.info("workspace_activated", workspace_id=workspace.pk, actor=actor.pk)
    return workspace


def workspace_deactivate(*, workspace: Workspace, actor: User, reason: str) -> Workspace:
    """Switch a workspace off (support: unpaid, abuse, a customer leaving). Its members are
    shown why instead of their pages, its public pages take nothing, and nothing more is sent
    to its clients (queued messages fail with the reason; they can be retried once it is back).
    Its data stays, until `workspace_delete`."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(fields={"reason": ["Say why the workspace is deactivated."]})
    if len(reason) > 300:
        raise InvalidInput(fields={"reason": ["Ensure this is at most 300 characters."]})
    with transaction.atomic():
        workspace = Workspace.objects.select_for_update().get(pk=workspace.pk)
        if workspace.is_deactivated:
            return workspace
        workspace.status = Workspace.Status.DEACTIVATED
        workspace.deactivated_at = timezone.now()
        workspace.deactivated_reason = reason
        workspace.save(
            update_fields=["status", "deactivated_at", "deactivated_reason", "updated_at"]
        )
    log.warning("workspace_deactivated", workspace_id=workspace.pk, actor=actor.pk, reason=reason)
    return workspace


def workspace_reactivate(*, workspace: Workspace, actor: User) -> Workspace:
    """Undo a deactivation: live again if it had gone live before, else back to its setup."""
    with transaction.atomic():
        workspace = Workspace.objects.select_for_update().get(pk=workspace.pk)
        if not workspace.is_deactivated:
            return workspace
        workspace.status = (
            Workspace.Status.ACTIVE if workspace.activated_at else Workspace.Status.DRAFT
        )
        workspace.deactivated_at = None
        workspace.deactivated_reason = ""
        workspace.save(
            update_fields=["status", "deactivated_at", "deactivated_reason", "updated_at"]
        )
    log.warning("workspace_reactivated", workspace_id=workspace.pk, actor=actor.pk)
    return workspace


# --- Memberships ------------------------------------------------------------------------------


def membership_remove(*, membership: Membership, actor: User) -> None:
    """Remove someone from a workspace. A workspace always keeps at least one owner."""
    with transaction.atomic():
        # Lock the workspace's owner rows so two owners cannot remove each other at once.
        owners = list(
            Membership.objects.select_for_update()
            .filter(workspace_id=membership.workspace_id, role=Membership.Role.OWNER)
            .values_list("pk", flat=True)
        )
        if membership.is_owner and owners == [membership.pk]:
            raise Conflict("A workspace needs at least one owner: make someone else owner first.")
        membership.delete()
    log.info("membership_removed", membership_id=membership.pk, actor=actor.pk)


def area_access_parse(access: dict | None, *, field: str = "access") -> dict[str, str]:
    """{area: level} from input, each checked: unknown areas and levels are refused by name."""
    if access is None:
        return {}
    if not isinstance(access, dict):
        raise InvalidInput(fields={field: ["Give an object of area: level."]})
    problems: dict[str, list[str]] = {}
    for area, level in access.items():
        if area not in Area.values:
            problems[f"{field}.{area}"] = [f"Not an area; the areas: {', '.join(Area.values)}."]
        elif level not in Access.values:
            problems[f"{field}.{area}"] = [f"Choose one of: {', '.join(Access.values)}."]
    if problems:
        raise InvalidInput(fields=problems)
    return dict(access)


def membership_access_update(
    *, membership: Membership, actor: User, access: dict[str, str]
) -> Membership:
    """Open or close areas to a staff member (owners always have every area)."""
    access = area_access_parse(access)
    if membership.is_owner:
        raise InvalidInput(fields={"access": ["Owners always have every area."]})
    changed = membership.set_area_access(access)
    if changed:
        membership.save(update_fields=[*changed, "updated_at"])
        log.info(
            "membership_access_changed",
            membership_id=membership.pk,
            actor=actor.pk,
            access=membership.area_access(),
        )
    return membership


# --- Invitations ------------------------------------------------------------------------------


def invitation_token(invitation: Invitation) -> str:
    return signing.TimestampSigner(salt=INVITATION_SALT).sign_object({"i": invitation.pk})


def invitation_url(invitation: Invitation) -> str:
    return settings.SITE_URL + reverse("invitation-accept", args=[invitation_token(invitation)])


def invitation_from_token(token: str) -> Invitation:
    """The pending invitation a token names; a forged, expired or used token is refused."""
    invalid = InvalidInput(fields={"token": ["This invitation link is not valid."]})
    try:
        data = signing.TimestampSigner(salt=INVITATION_SALT).unsign_object(
            token, max_age=settings.INVITATION_MAX_AGE
        )
    except signing.SignatureExpired:
        raise InvalidInput(fields={"token": ["This invitation has expired."]}) from None
    except signing.BadSignature:
        raise invalid from None
    invitation = Invitation.objects.select_related("workspace").filter(pk=data.get("i")).first()
    if invitation is None:
        raise invalid
    status = invitation.status
    if status != "pending":
        raise InvalidInput(fields={"token": [f"This invitation has been {status}."]})
    return invitation


def invitation_create(
    *,
    workspace: Workspace,
    actor: User,
    email: str,
    role: str = Membership.Role.STAFF,
    access: dict[str, str] | None = None,
) -> Invitation:
    """Invite someone by email, with the areas a staff member will start with (`access`,
    {area: level}; areas not named: view and act). Inviting the same address again refreshes
    and resends, with the role and areas given this time."""
    email = normalize_email(email)
    access = dict.fromkeys(Area.values, Access.ACT.value) | area_access_parse(access)
    if role not in Membership.Role.values:
        raise InvalidInput(
            fields={"role": [f"Choose one of: {', '.join(Membership.Role.values)}."]}
        )
    if workspace.memberships.filter(user__email=email).exists():
        raise InvalidInput(fields={"email": ["This person is already a member."]})
    expires_at = timezone.now() + settings.INVITATION_MAX_AGE
    with transaction.atomic():
        invitation, created = Invitation.objects.select_for_update().get_or_create(
            workspace=workspace,
            email=email,
            accepted_at=None,
            revoked_at=None,
            defaults={
                "role": role,
                "invited_by": actor,
                "expires_at": expires_at,
                **access_fields(access),
            },
        )
        if not created:
            invitation.role, invitation.expires_at, invitation.sent_at = role, expires_at, None
            invitation.invited_by = actor
            changed = invitation.set_area_access(access)
            invitation.save(
                update_fields=[
                    "role",
                    "expires_at",
                    "sent_at",
                    "invited_by",
                    *changed,
                    "updated_at",
                ]
            )
        _queue_invitation_email(invitation)
    log.info("invitation_created", invitation_id=invitation.pk, workspace_id=workspace.pk)
    return invitation


def _queue_invitation_email(invitation: Invitation) -> None:
    from workspaces.tasks import invitation_send

    enqueue_on_commit(invitation_send, invitation.pk)


def invitation_resend(*, invitation: Invitation, actor: User) -> Invitation:
    if invitation.status not in ("pending", "expired"):
        raise Conflict(f"This invitation has been {invitation.status}.")
    invitation.expires_at = timezone.now() + settings.INVITATION_MAX_AGE
    invitation.sent_at = None
    invitation.save(update_fields=["expires_at", "sent_at", "updated_at"])
    _queue_invitation_email(invitation)
    return invitation


def invitation_revoke(*, invitation: Invitation, actor: User) -> None:
    if invitation.accepted_at:
        raise Conflict("This invitation has already been accepted.")
    if invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at", "updated_at"])
        log.info("invitation_revoked", invitation_id=invitation.pk, actor=actor.pk)


def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """Join the workspace the invitation is for. Only the invited address may accept."""
    if normalize_email(user.email) != invitation.email:
        raise Forbidden("This invitation was sent to another email address: sign in with that one.")
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if locked.status != "pending":
            raise InvalidInput(fields={"token": [f"This invitation has been {locked.status}."]})
        membership, _ = Membership.objects.get_or_create(
            workspace_id=locked.workspace_id,
            user=user,
            defaults={"role": locked.role, **locked.access_fields()},
        )
        locked.accepted_at, locked.accepted_by = timezone.now(), user
        locked.save(update_fields=["accepted_at", "accepted_by", "updated_at"])
    log.info("invitation_accepted", invitation_id=invitation.pk, user_id=user.pk)
    return membership


def invitation_send(invitation_id: int) -> bool:
    """Send the invitation email once. Returns False when there was nothing to send."""
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update(of=("self",))
            .select_related("workspace", "invited_by")
            .filter(pk=invitation_id, sent_at__isnull=True)
            .first()
        )
        if invitation is None or invitation.status != "pending":
            return False
        context = {
            "invitation": invitation,
            "workspace": invitation.workspace,
            "inviter": invitation.invited_by,
            "url": invitation_url(invitation),
        }
        send_mail(
            subject=f"You're invited to join {invitation.workspace.name} on CareOps",
            message=render_to_string("messages/invitation_email.txt", context),
            from_email=None,
            recipient_list=[invitation.email],
        )
        # Marked in the same transaction: a crash before this line sends again on retry
        # (at least once); the row lock keeps two workers from sending at the same time.
        invitation.sent_at = timezone.now()
        invitation.save(update_fields=["sent_at"])
    log.info("invitation_sent", invitation_id=invitation_id)
    return True
