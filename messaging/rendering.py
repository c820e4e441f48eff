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
import functools
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
from django.template.base import (
    FilterExpression,
    Node,
    TextNode,
    Variable,
    VariableDoesNotExist,
    VariableNode,
)
from django.template.defaulttags import CommentNode, FirstOfNode, ForNode, IfNode, WithNode
from django.utils.safestring import mark_safe

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
# Blocks inside blocks: Django compiles and renders them recursively, and a few hundred levels
# (which fit in the body) exhaust Python's stack.
MAX_NESTING = 20
MAX_BODY_LENGTH = 5000
MAX_SUBJECT_LENGTH = 255  # the column of MessageTemplate.subject
# What one render may produce, and what a loop walks: a long form answer looped over twice,
# or joined with a long separator, would otherwise keep a worker busy for minutes.
MAX_OUTPUT_LENGTH = 20_000
MAX_LOOP_ITEMS = 100
MAX_DECIMAL_PLACES = 20
_SPENT = "sandbox_output_spent"  # render_context key: characters the loops produced so far


def _guarded(func):
    """A curated filter that renders as nothing when the data does not suit it (`first` of a
    number, a time format on a date), as an unknown variable does, instead of failing the send
    of a template that was valid when saved; its text is capped at MAX_OUTPUT_LENGTH."""

    @functools.wraps(func)  # keeps the flags (is_safe, needs_autoescape) and the signature
    def guarded(*args, **kwargs):
        try:
            result = func(*args, **kwargs)
        except Exception:  # the data of one render is not the template's fault: see above
            return ""
        if isinstance(result, str) and len(result) > MAX_OUTPUT_LENGTH:
            return result[:MAX_OUTPUT_LENGTH]
        return result

    return guarded


@functools.wraps(defaultfilters.floatformat)  # its is_safe flag and signature
def _floatformat(text, arg=-1):
    """floatformat with at most MAX_DECIMAL_PLACES places: Django pads to any number asked
    for, and a million places is a megabyte of zeros."""
    try:
        places = int(str(arg).rstrip("gu") or -1)
    except ValueError:
        places = 0  # floatformat itself shows the value unchanged
    if abs(places) > MAX_DECIMAL_PLACES:
        return ""
    return defaultfilters.floatformat(text, arg)


class BoundedForNode(ForNode):
    """{% for %} in the sandbox: over the first MAX_LOOP_ITEMS items, and no further once the
    render's loops have produced MAX_OUTPUT_LENGTH characters. A sequence it cannot walk (a
    number, items that do not unpack into the loop's names) renders as nothing, as an unknown
    variable does, where Django's loop would raise at send time."""

    def render(self, context):
        values = self.sequence.resolve(context, ignore_failures=True)
        try:
            values = list(values or ())
        except TypeError:  # a number, a date: nothing to walk
            values = []
        if self.is_reversed:
            values.reverse()
        values = values[:MAX_LOOP_ITEMS]
        if not values:
            return self.nodelist_empty.render(context)
        parentloop = context.get("forloop", {})
        parts = []
        with context.push():
            loop = context["forloop"] = {"parentloop": parentloop}
            for i, item in enumerate(values):
                loop.update(
                    counter0=i,
                    counter=i + 1,
                    revcounter=len(values) - i,
                    revcounter0=len(values) - i - 1,
                    first=i == 0,
                    last=i == len(values) - 1,
                )
                try:
                    names = (
                        dict(zip(self.loopvars, item, strict=True))
                        if len(self.loopvars) > 1
                        else {self.loopvars[0]: item}
                    )
                except (TypeError, ValueError):
                    return ""
                with context.push(names):
                    text = self.nodelist_loop.render(context)
                parts.append(text)
                # Nested loops count their text twice (inner and outer): a bound, not a tally.
                spent = context.render_context.get(_SPENT, 0) + len(text)
                context.render_context[_SPENT] = spent
                if spent > MAX_OUTPUT_LENGTH:
                    break
        return mark_safe("".join(parts))  # noqa: S308 - autoescape is off: text, not HTML


def _do_for(parser, token):
    node = defaulttags.do_for(parser, token)
    return BoundedForNode(
        node.loopvars, node.sequence, node.is_reversed, node.nodelist_loop, node.nodelist_empty
    )


register = Library()
for _name in TAGS:
    register.tags[_name] = defaulttags.register.tags[_name]
register.tags["for"] = _do_for
for _name in FILTERS:
    register.filters[_name] = _guarded(defaultfilters.register.filters[_name])
register.filters["floatformat"] = _guarded(_floatformat)


class SandboxEngine(Engine):
    default_builtins: list[str] = []  # Django's own tags and filters: only those copied above


@cache
def engine() -> Engine:
    sandbox = SandboxEngine(
        dirs=[], app_dirs=False, libraries={}, autoescape=False, string_if_invalid=""
    )
    sandbox.template_builtins = [register]
    return sandbox


class _LenientVariable(Variable):
    """A filter's argument that names a variable: missing from the data, it is "" (what the
    variable shows on its own) where Django raises VariableDoesNotExist, which would fail the
    send of a template that was valid when saved (`{{ link|join:form.notes }}` with no form)."""

    __slots__ = ()

    def resolve(self, context):
        try:
            return super().resolve(context)
        except VariableDoesNotExist:
            return ""


def _filter_expressions(nodes) -> list[FilterExpression]:
    """Every FilterExpression of the sandbox's tags, in the nodes and the blocks within."""
    found = []

    def condition(cond) -> None:
        if cond is None:
            return
        if isinstance(getattr(cond, "value", None), FilterExpression):
            found.append(cond.value)
        condition(getattr(cond, "first", None))
        condition(getattr(cond, "second", None))

    for node in nodes.get_nodes_by_type(Node):
        if isinstance(node, VariableNode):
            found.append(node.filter_expression)
        elif isinstance(node, IfNode):
            for cond, _ in node.conditions_nodelists:
                condition(cond)
        elif isinstance(node, ForNode):
            found.append(node.sequence)
        elif isinstance(node, WithNode):
            found.extend(node.extra_context.values())
        elif isinstance(node, FirstOfNode):
            found.extend(node.vars)
    return found


@lru_cache(maxsize=512)
def _compile(source: str):
    template = engine().from_string(source)
    for expression in _filter_expressions(template.nodelist):
        expression.filters = [
            (func, [(is_var, _LenientVariable(arg.var) if is_var else arg) for is_var, arg in args])
            for func, args in expression.filters
        ]
    return template


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


def _check_nodes(
    nodes, scope: frozenset[str], depth: int, problems: list[str], nesting: int = 0
) -> None:
    if nesting > MAX_NESTING:
        problems.append(f"Blocks may be nested {MAX_NESTING} deep at most.")
        return
    for node in nodes:
        if isinstance(node, TextNode | CommentNode):
            continue
        if isinstance(node, VariableNode):
            _check_expression(node.filter_expression, scope, problems)
        elif isinstance(node, IfNode):
            for condition, nodelist in node.conditions_nodelists:
                _check_condition(condition, scope, problems)
                _check_nodes(nodelist, scope, depth, problems, nesting + 1)
        elif isinstance(node, ForNode):
            if depth >= MAX_LOOP_DEPTH:
                problems.append(f"Loops may be nested {MAX_LOOP_DEPTH} deep at most.")
                continue
            _check_expression(node.sequence, scope, problems)
            inner = scope | {*node.loopvars, "forloop"}
            _check_nodes(node.nodelist_loop, inner, depth + 1, problems, nesting + 1)
            _check_nodes(node.nodelist_empty, scope, depth, problems, nesting + 1)
        elif isinstance(node, WithNode):
            for expression in node.extra_context.values():
                _check_expression(expression, scope, problems)
            inner = scope | set(node.extra_context)
            _check_nodes(node.nodelist, inner, depth, problems, nesting + 1)
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
    except RecursionError:  # Django's parser recurses into each block
        return [f"Blocks may be nested {MAX_NESTING} deep at most."]
    problems: list[str] = []
    _check_nodes(template.nodelist, frozenset(KNOWN_ROOTS), 0, problems)
    return list(dict.fromkeys(problems))


def template_validate(subject: str, body: str) -> None:
    """Refuse a template that does not compile in the sandbox or names unknown variables."""
    fields: dict[str, list[str]] = {}
    if len(subject) > MAX_SUBJECT_LENGTH:
        fields["subject"] = [f"Keep the subject under {MAX_SUBJECT_LENGTH} characters."]
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
    return _compile(source).render(Context(frozen, autoescape=False))[:MAX_OUTPUT_LENGTH]


def template_render(template, context: dict[str, Any]) -> tuple[str, str]:
    """A template (anything with .subject and .body) rendered: (subject, body)."""
    try:
        subject = " ".join(render_text(template.subject or "", context).split())
        body = render_text(template.body, context).strip()
    except TemplateSyntaxError as exc:
        raise InvalidInput(fields={"body": [str(exc)]}) from None
    except RecursionError:  # saved before MAX_NESTING was checked
        raise InvalidInput(fields={"body": [f"Blocks nest {MAX_NESTING} deep at most."]}) from None
    return subject, body
