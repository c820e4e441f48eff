"""Background work for invitations. Tasks take ids, reload, and call a service."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from workspaces import services
from workspaces.models import Invitation


@shared_task(
    autoretry_for=(OSError,),
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=8,
)
def invitation_send(invitation_id: int) -> bool:
    return services.invitation_send(invitation_id)


@shared_task
def invitations_send_unsent() -> int:
    """Queue invitations whose email never went out (say, the broker was down at commit)."""
    # Give the on-commit publish a minute before the sweep steps in.
    cutoff = timezone.now() - timedelta(minutes=1)
    ids = list(
        Invitation.objects.filter(
            sent_at__isnull=True,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
            created_at__lt=cutoff,
        ).values_list("pk", flat=True)[:500]
    )
    for invitation_id in ids:
        invitation_send.delay(invitation_id)
    return len(ids)
