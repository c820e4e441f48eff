"""Cross-cutting signal receivers: request ids on every response; periodic tasks and the
Support group kept in step after every migrate."""

from __future__ import annotations

import structlog
from django.db.models.signals import post_migrate
from django.dispatch import receiver
from django_structlog import signals


@receiver(signals.bind_extra_request_finished_metadata)
@receiver(signals.update_failure_response)
def echo_request_id(response, logger, **kwargs) -> None:
    """Return the request id to the caller, so a support ticket can quote the log line."""
    context = structlog.contextvars.get_merged_contextvars(logger)
    if "request_id" in context:
        response["X-Request-ID"] = context["request_id"]


@receiver(post_migrate)
def register_periodic_tasks(sender, app_config, **kwargs) -> None:
    if app_config.label == "careops":
        from careops.schedule import sync_periodic_tasks

        sync_periodic_tasks()


@receiver(post_migrate)
def sync_support_group(sender, app_config, **kwargs) -> None:
    """After migrate and after a flush (which empties auth tables too), see careops.support.
    At the last app's signal: auth's own handler has made every app's permissions by then."""
    from django.apps import apps

    if app_config is [config for config in apps.get_app_configs() if config.models_module][-1]:
        from careops.support import support_group_sync

        support_group_sync(apps)
