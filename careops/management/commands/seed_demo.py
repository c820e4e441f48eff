"""manage.py seed_demo — a demo owner, a staff member and their workspace, if absent.

Each domain app adds its demo data here as it lands; the command stays idempotent: running it
twice leaves one demo workspace.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from workspaces import services
from workspaces.models import Membership, User, Workspace

DEMO_OWNER = ("owner@demo.careops.test", "Olivia Owner")
DEMO_STAFF = ("staff@demo.careops.test", "Sam Staff")
DEMO_PASSWORD = "demo-password-1234"  # noqa: S105 - a documented demo credential
DEMO_WORKSPACE = {
    "name": "Harbour Physio (demo)",
    "timezone": "Europe/London",
    "contact_email": "hello@harbourphysio.example",
    "contact_phone": "+44 20 7946 0958",
    "address": "12 Quay Street, Bristol BS1 4DJ",
}


class Command(BaseCommand):
    help = "Create the demo owner, staff member and workspace when they do not exist yet."

    def _user(self, email: str, name: str) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=DEMO_PASSWORD, name=name)
        return user

    @transaction.atomic
    def handle(self, *args, **options):
        owner = self._user(*DEMO_OWNER)
        staff = self._user(*DEMO_STAFF)
        workspace = Workspace.objects.filter(
            memberships__user=owner, name=DEMO_WORKSPACE["name"]
        ).first()
        if workspace is None:
            workspace = services.workspace_create(owner=owner, **DEMO_WORKSPACE)
        Membership.objects.get_or_create(
            workspace=workspace, user=staff, defaults={"role": Membership.Role.STAFF}
        )
        self.stdout.write(self.style.SUCCESS(f"Demo workspace ready: {workspace.name}"))
        self.stdout.write(f"  owner: {DEMO_OWNER[0]} / {DEMO_PASSWORD}")
        self.stdout.write(f"  staff: {DEMO_STAFF[0]} / {DEMO_PASSWORD}")
