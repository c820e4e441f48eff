from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from workspaces.models import Membership, User, Workspace

pytestmark = pytest.mark.django_db


def test_createworkspace_creates_the_owner_and_the_workspace(capsys):
    call_command("createworkspace", "Boss@Example.com", "Corner Salon", "--timezone", "Europe/Rome")

    out = capsys.readouterr().out
    membership = Membership.objects.get(user__email="boss@example.com")
    assert membership.role == "owner"
    assert membership.workspace.name == "Corner Salon"
    assert membership.workspace.timezone == "Europe/Rome"
    assert "password (shown once)" in out


def test_createworkspace_reuses_an_existing_owner_account(owner):
    call_command("createworkspace", owner.email, "Second Branch")

    assert Workspace.objects.filter(memberships__user=owner).count() == 2
    assert User.objects.filter(email=owner.email).count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["not-an-email", "Shop"], "not a valid email"),
        (["a@example.com", "Shop", "--timezone", "Moon/Base"], "timezone"),
        (["a@example.com", "Shop", "--password", "123"], "password"),
    ],
)
def test_createworkspace_refuses_bad_input_and_stores_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("createworkspace", *args)

    assert not Workspace.objects.exists()
    assert not User.objects.exists()


def test_seed_demo_is_idempotent():
    call_command("seed_demo")
    call_command("seed_demo")

    assert Workspace.objects.count() == 1
    assert Membership.objects.count() == 2
