"""Accounts, workspaces (the businesses), memberships with roles, and staff invitations."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import dateformat, timezone

from careops.errors import Conflict, Forbidden
from careops.models import TimestampedModel, WorkspaceQuerySet


class WorkspaceNotLive(Conflict):
    code = "workspace_not_live"
    default_message = "This business is not yet accepting bookings or messages online."


class WorkspaceDeactivated(Forbidden):
    """Its members' pages and API calls, once support has deactivated the workspace."""

    code = "workspace_deactivated"
    default_message = (
        "This workspace has been deactivated by CareOps support. Its data is kept; "
        "contact support to have it reactivated."
    )

    def __init__(self, workspace: Workspace | None = None) -> None:
        super().__init__()
        self.workspace = workspace


def normalize_email(email: str) -> str:
    """Emails are compared and stored lower-cased, so one address is one account."""
    return (email or "").strip().lower()


def local_midnight(day: date, zone: tzinfo) -> datetime:
    """The moment `day` begins in `zone`: the local 00:00 after which the clock shows `day`
    or later. Where 00:00 does not exist (DST starts at midnight) that is the first moment
    after the gap. Where it comes twice, the first one, unless the clocks fell back across
    midnight in between (St John's in 1987, Casey in 2010: 00:00, 00:01, then 23:01 of the day
    before): then the day begins at the second."""
    first = datetime.combine(day, time.min, tzinfo=zone)
    second = first.replace(fold=1)
    if second.utcoffset() < first.utcoffset():  # 00:00 is ambiguous; compute in UTC
        before_second = second.astimezone(UTC) - timedelta(microseconds=1)
        if before_second.astimezone(zone).date() < day:
            return second
    return first


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"'{value}' is not a known time zone (e.g. Europe/London).")


validate_phone = RegexValidator(
    r"^\+?[0-9][0-9 ()\-.]{5,24}$", "Enter a phone number such as +44 20 7946 0958."
)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, username: str) -> User:
        return self.get(email=normalize_email(username))


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in: an owner, a staff member, or a support agent (is_staff)."""

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        default=False, help_text="May sign in to the support back office (/admin/)."
    )
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(email=Lower("email")), name="workspaces_user_email_lowercase"
            ),
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = normalize_email(self.email)

    def get_full_name(self) -> str:
        return self.name or self.email

    def get_short_name(self) -> str:
        return (self.name.split() or [self.email])[0]


class Workspace(TimestampedModel):
    """A business that runs its day in CareOps."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        # By support (unpaid, abuse, a customer leaving): members are shown why, public pages
        # take nothing and nothing is sent to its clients; the data stays until deleted.
        DEACTIVATED = "deactivated", "Deactivated"

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    contact_email = models.EmailField(blank=True)
    contact_phone = models.CharField(max_length=32, blank=True, validators=[validate_phone])
    address = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    activated_at = models.DateTimeField(null=True, blank=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    deactivated_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["draft", "active", "deactivated"]),
                name="workspaces_workspace_status_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="active") | models.Q(activated_at__isnull=False),
                name="workspaces_workspace_active_has_activated_at",
            ),
            models.CheckConstraint(
                condition=models.Q(status="deactivated", deactivated_at__isnull=False)
                | models.Q(~models.Q(status="deactivated"), deactivated_at__isnull=True),
                name="workspaces_workspace_deactivated_has_deactivated_at",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def is_deactivated(self) -> bool:
        return self.status == self.Status.DEACTIVATED

    def check_accepting_clients(self) -> None:
        """Clients book and write in through the public pages only once the owner has put the
        workspace live (onboarding done): until then a half-set-up business takes nothing."""
        if self.is_deactivated:
            raise WorkspaceNotLive("This business is not accepting bookings or messages online.")
        if not self.is_active:
            raise WorkspaceNotLive()

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The time zone its clients and staff read times in."""
        return zoneinfo.ZoneInfo(self.timezone or "UTC")

    def today(self, now: datetime | None = None) -> date:
        """The date on its clock now (or at `now`): the day whose midnights hold the moment."""
        moment = now or timezone.now()
        day = timezone.localtime(moment, self.zone).date()
        # Clocks that fall back across midnight show the next date for a while, then the
        # previous one again; those minutes belong to the day that has not yet ended. (In UTC:
        # two times of one zone compare by their wall clocks, whatever their fold.)
        return day - timedelta(days=1) if moment.astimezone(UTC) < self.midnight(day) else day

    def midnight(self, day: date) -> datetime:
        """The moment one of its days begins (aware; a DST day begins at its own offset)."""
        return local_midnight(day, self.zone)

    def local_text(self, moment: datetime, fmt: str) -> str:
        """A moment as its clients read it: on its clock, in a date format ("l j F, H:i")."""
        return dateformat.format(timezone.localtime(moment, self.zone), fmt)


class Area(models.TextChoices):
    """The parts of the dashboard an owner opens or closes to each staff member."""

    INBOX = "inbox", "Inbox"
    BOOKINGS = "bookings", "Bookings"
    FORMS = "forms", "Forms"
    INVENTORY = "inventory", "Inventory"


class Access(models.TextChoices):
    """What a staff member may do in an area. Owners always have ACT everywhere."""

    NONE = "none", "No access"
    VIEW = "view", "View only"
    ACT = "act", "View and act"


def _access_field(area: Area) -> models.CharField:
    return models.CharField(
        f"{area.label} access", max_length=8, choices=Access.choices, default=Access.ACT
    )


def access_fields(access: dict[str, str]) -> dict[str, str]:
    """{area: level} as the model's columns: {"inbox_access": level, ...}."""
    return {f"{Area(area)}_access": Access(level).value for area, level in access.items()}


def area_levels(access: dict[str, str]) -> list[tuple[str, str]]:
    """[(area's name, level's name)] in the areas' order, as pages show them."""
    return [(Area(area).label, Access(level).label) for area, level in access.items()]


class AreaAccess(models.Model):
    """Per-area access, held by a membership and, as the defaults it will grant, by an
    invitation. One column per area: a check constraint keeps each to a known level."""

    inbox_access = _access_field(Area.INBOX)
    bookings_access = _access_field(Area.BOOKINGS)
    forms_access = _access_field(Area.FORMS)
    inventory_access = _access_field(Area.INVENTORY)

    class Meta:
        abstract = True

    @staticmethod
    def access_constraints(prefix: str) -> list[models.CheckConstraint]:
        return [
            models.CheckConstraint(
                condition=models.Q(**{f"{area}_access__in": Access.values}),
                name=f"{prefix}_{area}_access_valid",
            )
            for area in Area.values
        ]

    def area_access(self) -> dict[str, str]:
        """Every area and the level this row grants in it: {"inbox": "act", ...}."""
        return {area: getattr(self, f"{area}_access") for area in Area.values}

    def access_fields(self) -> dict[str, str]:
        return access_fields(self.area_access())

    def area_levels(self) -> list[tuple[str, str]]:
        return area_levels(self.area_access())

    def set_area_access(self, access: dict[str, str]) -> list[str]:
        """Take the levels given (areas not named keep theirs); returns the fields changed."""
        changed = []
        for field, level in access_fields(access).items():
            if getattr(self, field) != level:
                setattr(self, field, level)
                changed.append(field)
        return changed


class Membership(AreaAccess, TimestampedModel):
    """A user's place in a workspace. Owners run the workspace; staff run the day, in the
    areas their owner opened to them (an owner's own area columns are not read)."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        STAFF = "staff", "Staff"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.STAFF)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "user"], name="workspaces_membership_one_per_user"
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=["owner", "staff"]),
                name="workspaces_membership_role_valid",
            ),
            *AreaAccess.access_constraints("workspaces_membership"),
        ]
        indexes = [
            # The member list of a workspace, by role (team page, owner count on removal).
            models.Index(fields=["workspace", "role"], name="workspaces_membership_ws_role"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}) in {self.workspace}"

    @property
    def is_owner(self) -> bool:
        return self.role == self.Role.OWNER

    def access(self, area: str) -> str:
        """The level this member has in the area: an owner acts everywhere."""
        if self.is_owner:
            return Access.ACT
        return getattr(self, f"{Area(area)}_access")

    def can_view(self, area: str) -> bool:
        return self.access(area) != Access.NONE

    def can_act(self, area: str) -> bool:
        return self.access(area) == Access.ACT

    @property
    def areas(self) -> dict[str, str]:
        """Every area and this member's level in it (an owner: act in all)."""
        return {area: self.access(area) for area in Area.values}

    @property
    def visible_areas(self) -> frozenset[str]:
        return frozenset(area for area, level in self.areas.items() if level != Access.NONE)


class InvitationQuerySet(WorkspaceQuerySet):
    def pending(self) -> InvitationQuerySet:
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True)


class Invitation(AreaAccess, TimestampedModel):
    """An owner's invitation for someone to join the workspace, sent by email. Its area
    columns are the access the new staff member starts with (shown when accepting)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(
        max_length=16, choices=Membership.Role.choices, default=Membership.Role.STAFF
    )
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="workspaces_invitation_one_pending_per_email",
            ),
            models.CheckConstraint(
                condition=models.Q(email=Lower("email")),
                name="workspaces_invitation_email_lowercase",
            ),
            *AreaAccess.access_constraints("workspaces_invitation"),
        ]
        indexes = [
            # The sweep that sends invitations whose email could not be queued.
            models.Index(
                fields=["created_at"],
                condition=models.Q(sent_at__isnull=True, accepted_at__isnull=True),
                name="workspaces_invitation_unsent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.workspace}"

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"
