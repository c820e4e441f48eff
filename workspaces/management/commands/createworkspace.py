"""manage.py createworkspace OWNER_EMAIL "Business name" — an owner account and its workspace."""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import transaction

from careops.errors import DomainError
from workspaces import services
from workspaces.models import User, normalize_email


class Command(BaseCommand):
    help = (
        "Create a workspace owned by OWNER_EMAIL. The owner account is created when it does not "
        "exist yet (with --password, or a generated password that is printed once)."
    )

    def add_arguments(self, parser):
        parser.add_argument("owner_email")
        parser.add_argument("name", help="The business name.")
        parser.add_argument("--timezone", default="UTC", help="IANA time zone, e.g. Europe/Paris.")
        parser.add_argument("--password", help="Password for a new owner account.")
        parser.add_argument("--owner-name", default="", help="Full name for a new owner account.")

    def handle(self, *args, owner_email, name, timezone, password, owner_name, **options):
        email = normalize_email(owner_email)
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"'{owner_email}' is not a valid email address.") from None
        generated = None
        try:
            with transaction.atomic():
                owner = User.objects.filter(email=email).first()
                if owner is None:
                    generated = None if password else secrets.token_urlsafe(12)
                    owner, _ = services.user_register(
                        email=email, password=password or generated, name=owner_name
                    )
                workspace = services.workspace_create(owner=owner, name=name, timezone=timezone)
        except DomainError as exc:
            problems = "; ".join(f"{f}: {' '.join(m)}" for f, m in exc.fields.items())
            raise CommandError(problems or exc.message) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Created workspace '{workspace.name}' (id {workspace.pk}, "
                f"slug {workspace.slug}) owned by {email}."
            )
        )
        if generated:
            self.stdout.write(f"New owner account password (shown once): {generated}")
