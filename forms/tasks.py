"""Background work for forms. Tasks take ids, reload, and call a service."""

from __future__ import annotations

from celery import shared_task


@shared_task
def forms_mark_overdue() -> int:
    """Mark pending forms past their due time overdue, every hour. Idempotent: a form is marked
    once (only pending ones are), and two runs at once skip each other's rows."""
    from forms.services import submissions_mark_overdue

    return submissions_mark_overdue()
