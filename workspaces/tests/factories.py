from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from workspaces.models import Invitation, Membership, User, Workspace

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class WorkspaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workspace

    name = factory.Sequence(lambda n: f"Business {n}")
    slug = factory.Sequence(lambda n: f"business-{n}")
    timezone = "Europe/London"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    workspace = factory.SubFactory(WorkspaceFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.STAFF


class InvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invitation

    workspace = factory.SubFactory(WorkspaceFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    role = Membership.Role.STAFF
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))


def make_live(workspace: Workspace) -> Workspace:
    """Put a workspace live as activation does: its public pages take clients from then on."""
    workspace.status = Workspace.Status.ACTIVE
    workspace.activated_at = timezone.now()
    workspace.save(update_fields=["status", "activated_at", "updated_at"])
    return workspace
