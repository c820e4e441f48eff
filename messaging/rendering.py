"""Message templates: {{ variables }} rendered with Django's template language, sandboxed.

Owners write templates, so a template is untrusted input. It is compiled by an engine of its
own whose only tags and filters are the curated ones below (no load, include, extends, debug,
csrf_token, url, now...), against a context of plain, read-only data the caller built: never a
model instance, so nothing reaches a method that could change or leak anything. Validation
also refuses variables outside the known roots, so a typo is caught when the template is saved
rather than rendering as blank in a client's inbox.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from functools import cache, lru_cache
from types import MappingProxyType
from typing import Any

from django.template import (
    Context,
    Engine,
    Library,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
)
from django.template.base import FilterExpression, Node, TextNode, Variable, VariableNode
from django.template.defaulttags import CommentNode, FirstOfNode, ForNode, IfNode, WithNode

from careops.errors import InvalidInput

KNOWN_ROOTS = ("contact", "workspace", "booking", "form", "staff", "link")
TAGS = ("if", "for", "firstof", "with", "comment")
FILTERS = (
    "default",
    "default_if_none",
    "upper",
    "lower",
    "title",
    "capfirst",
    "date",
    "time",
    "truncatechars",
    "truncatewords",
    "length",
    "join",
    "yesno",
    "linebreaksbr",
    "first",
    "last",
    "pluralize",
    "floatformat",
)
# Nested loops multiply: three loops over a long string would keep a worker busy for minutes.
MAX_LOOP_DEPTH = 2
MAX_BODY_LENGTH = 5000

register = Library()
for _name in TAGS:
    register.tags[_name] = defaulttags.register.tags[_name]
for _name in FILTERS:
    register.filters[_name] = defaultfilters.register.filters[_name]


class SandboxEngine(Engine):
    default_builtins: list[str] = []  # Django's own tags and filters: only those copied above


@cache
def engine() -> Engine:
    sandbox = SandboxEngine(
        dirs=[], app_dirs=False, libraries={}, autoescape=False, string_if_invalid=""
    )
    sandbox.template_builtins = [register]
    return sandbox


@lru_cache(maxsize=512)
def _compile(source: str):
    return engine().from_string(source)


# --- Context ----------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Read-only plain data: mappings and sequences frozen, anything unknown as text."""
    if isinstance(value, dict | MappingProxyType):
        return MappingProxyType({str(k): _plain(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_plain(v) for v in value)
    if value is None or isinstance(
        value, str | bool | int | float | Decimal | datetime.date | datetime.time
    ):
        return value
    return str(value)


def template_context(
    *,
    contact=None,
    workspace=None,
    booking: dict | None = None,
    form: dict | None = None,
    staff=None,
    link: str | dict = "",
) -> dict[str, Any]:
    """The variables a template may use, as plain data (see the module doc)."""
    return {
        "contact": {
            "first_name": contact.first_name,
            "name": contact.name,
            "email": contact.email,
            "phone": contact.phone,
        }
        if contact is not None
        else {},
        "workspace": {
            "name": workspace.name,
            "phone": workspace.contact_phone,
            "email": workspace.contact_email,
            "address": workspace.address,
        }
        if workspace is not None
        else {},
        "booking": dict(booking or {}),
        "form": dict(form or {}),
        "staff": {
            "name": staff.name,
            "first_name": (staff.name.split() or [""])[0],
            "email": staff.email,
        }
        if staff is not None
        else {},
        "link": link,
    }


# --- Validation -------------------------------------------------------------------------------


def _check_variable(variable: Any, scope: frozenset[str], problems: list[str]) -> None:
    if not isinstance(variable, Variable) or variable.lookups is None:
        return  # a literal: "text", 3
    root = variable.lookups[0]
    if root not in scope:
        problems.append(
            f"Unknown variable “{variable.var}”: use {', '.join(KNOWN_ROOTS[:-1])} "
            f"or {KNOWN_ROOTS[-1]}."
        )


def _check_expression(expression: Any, scope: frozenset[str], problems: list[str]) -> None:
    if not isinstance(expression, FilterExpression):
        return
    _check_variable(expression.var, scope, problems)
    for _func, args in expression.filters:
        for is_variable, arg in args:
            if is_variable:
                _check_variable(arg, scope, problems)


def _check_condition(condition: Any, scope: frozenset[str], problems: list[str]) -> None:
    """An {% if %} condition: literals (.value) joined by operators (.first, .second)."""
    if condition is None:
        return
    value = getattr(condition, "value", None)
    if isinstance(value, FilterExpression):
        _check_expression(value, scope, problems)
        return
    _check_condition(getattr(condition, "first", None), scope, problems)
    _check_condition(getattr(condition, "second", None), scope, problems)


def _check_nodes(nodes, scope: frozenset[str], depth: int, problems: list[str]) -> None:
    for node in nodes:
        if isinstance(node, TextNode | CommentNode):
            continue
        if isinstance(node, VariableNode):
            _check_expression(node.filter_expression, scope, problems)
        elif isinstance(node, IfNode):
            for condition, nodelist in node.conditions_nodelists:
                _check_condition(condition, scope, problems)
                _check_nodes(nodelist, scope, depth, problems)
        elif isinstance(node, ForNode):
            if depth >= MAX_LOOP_DEPTH:
                problems.append(f"Loops may be nested {MAX_LOOP_DEPTH} deep at most.")
                continue
            _check_expression(node.sequence, scope, problems)
            inner = scope | {*node.loopvars, "forloop"}
            _check_nodes(node.nodelist_loop, inner, depth + 1, problems)
            _check_nodes(node.nodelist_empty, scope, depth, problems)
        elif isinstance(node, WithNode):
            for expression in node.extra_context.values():
                _check_expression(expression, scope, problems)
            _check_nodes(node.nodelist, scope | set(node.extra_context), depth, problems)
        elif isinstance(node, FirstOfNode):
            for expression in node.vars:
                _check_expression(expression, scope, problems)
        elif isinstance(node, Node):  # pragma: no cover - only the tags above compile
            problems.append(f"This template uses something not allowed: {node!r}.")


def _template_problems(source: str) -> list[str]:
    try:
        template = _compile(source)
    except TemplateSyntaxError as exc:
        return [str(exc)]
    problems: list[str] = []
    _check_nodes(template.nodelist, frozenset(KNOWN_ROOTS), 0, problems)
    return list(dict.fromkeys(problems))


def template_validate(subject: str, body: str) -> None:
    """Refuse a template that does not compile in the sandbox or names unknown variables."""
    fields: dict[str, list[str]] = {}
    if len(body) > MAX_BODY_LENGTH:
        fields["body"] = [f"Keep the text under {MAX_BODY_LENGTH} characters."]
    for name, source in (("subject", subject), ("body", body)):
        if source and name not in fields and (problems := _template_problems(source)):
            fields[name] = problems
    if fields:
        raise InvalidInput(fields=fields)


# --- Rendering -------------------------------------------------------------------------------


def render_text(source: str, context: dict[str, Any]) -> str:
    """One template string rendered as plain text (no HTML escaping: emails and SMS are text)."""
    if not source:
        return ""
    frozen = {key: _plain(value) for key, value in context.items()}
    return _compile(source).render(Context(frozen, autoescape=False))


def template_render(template, context: dict[str, Any]) -> tuple[str, str]:
    """A template (anything with .subject and .body) rendered: (subject, body)."""
    try:
        subject = " ".join(render_text(template.subject or "", context).split())
        body = render_text(template.body, context).strip()
    except TemplateSyntaxError as exc:
        raise InvalidInput(fields={"body": [str(exc)]}) from None
    return subject, body
