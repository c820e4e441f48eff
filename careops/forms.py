"""Pieces shared by the server-rendered forms of every app."""

from __future__ import annotations

from django import forms

from careops.errors import DomainError


def add_domain_errors(form: forms.Form, error: DomainError) -> None:
    """Show a service's refusal on the form: each field's messages on that field (or on the
    form when it has no such field), the general message when no field is named."""
    for field, problems in error.fields.items():
        target = field if field in form.fields else None
        for problem in problems:
            form.add_error(target, problem)
    if not error.fields:
        form.add_error(None, error.message)
