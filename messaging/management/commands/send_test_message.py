"""manage.py send_test_message --workspace <slug> --channel email|sms --to <address>
[--integration <id>] — prove that a workspace's providers work by sending a real message.

Without --integration the message goes the way the workspace's messages go: through its active
integrations on the channel in order (falling back as a delivery does), or through the
platform's default sender when it has none. Prints which provider took it, or why each one
failed; exits 1 when none did.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from careops.errors import InvalidInput
from careops.management.base import workspace_from_arg
from messaging.integrations import integration_send_test, workspace_send_test
from messaging.models import Channel, Integration


class Command(BaseCommand):
    help = (
        "Send a real test message through a workspace's providers (or one integration) and "
        "say which provider took it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="The workspace's slug or id.")
        parser.add_argument(
            "--channel", required=True, choices=Channel.values, help="email or sms."
        )
        parser.add_argument(
            "--to", required=True, help="The email address, or the number in E.164 (+44...)."
        )
        parser.add_argument(
            "--integration",
            type=int,
            metavar="ID",
            help="Send through this one integration of the workspace, not the fallback order.",
        )

    def handle(self, *args, **options):
        workspace = workspace_from_arg(options["workspace"])
        channel = options["channel"]
        try:
            if options["integration"] is not None:
                integration = self._integration(workspace, options["integration"], channel)
                report = integration_send_test(integration=integration, to=options["to"])
            else:
                report = workspace_send_test(workspace=workspace, channel=channel, to=options["to"])
        except InvalidInput as exc:
            problems = [p for ps in exc.fields.values() for p in ps] or [exc.message]
            raise CommandError(" ".join(problems)) from None

        if report.platform:
            self.stdout.write(
                f"{workspace.slug} has no active {channel} integration: the platform's default "
                "sender is used."
            )
        for attempt in report.attempts:
            if attempt.error:
                self.stdout.write(f"{attempt.sender}: failed: {attempt.error}")
        if not report.ok:
            raise CommandError(f"The test message was not sent: {report.error}")
        self.stdout.write(
            f"Sent to {options['to']} through {report.sender} (provider: {report.provider})."
        )

    def _integration(self, workspace, pk: int, channel: str) -> Integration:
        integration = Integration.objects.for_workspace(workspace).filter(pk=pk).first()
        if integration is None:
            raise CommandError(f"{workspace.slug} has no integration {pk}.")
        if integration.channel != channel:
            raise CommandError(
                f"Integration {pk} sends {integration.channel}, not {channel}: "
                f"use --channel {integration.channel}."
            )
        return integration
