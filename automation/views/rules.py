"""The owner's automation settings: every rule of the workspace, switched on or off, its message
edited, and tried on a contact or booking without sending anything.

Owners only (staff get 403). htmx requests get the partial they swap; every action also works as
a plain form post.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views import View

from automation.dry_run import rule_dry_run
from automation.models import Rule
from automation.rules import rule_update, rules_for
from automation.views.forms import SERVICE_FIELDS, TRY_TARGETS, RuleForm, TryForm
from bookings.models import Booking
from careops.errors import DomainError, InvalidInput
from careops.forms import add_domain_errors
from careops.tenancy import WorkspacePageMixin
from contacts.models import Contact

TRY_CHOICES = 50  # the newest contacts or bookings the "Try it" box offers


class SettingsPageMixin(WorkspacePageMixin):
    """Owner-only pages, rendered in the workspace's time zone."""

    owner_only = True

    def render(self, template: str, context: dict, status: int = 200) -> HttpResponse:
        with timezone.override(ZoneInfo(self.request.workspace.timezone)):
            return render(self.request, template, context, status=status)


def _rule_or_404(request, pk: int) -> Rule:
    return get_object_or_404(Rule.objects.for_workspace(request.workspace), pk=pk)


def _hours_label(minutes: int) -> str:
    if minutes % 60:
        return f"{minutes} minutes"
    hours = minutes // 60
    if hours % 24 == 0:
        days = hours // 24
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{hours} hour{'s' if hours != 1 else ''}"


def rule_summary(rule: Rule) -> str:
    """What the rule does, in one line."""
    kind = Rule.Kind
    if rule.kind == kind.WELCOME:
        return f"Sends “{rule.subject}” by email or SMS when a contact is added."
    if rule.kind == kind.BOOKING_CONFIRMATION:
        return (
            f"Sends “{rule.subject}” with the calendar file and the manage link "
            "when a booking is made."
        )
    if rule.kind == kind.BOOKING_FORMS:
        return "Sends the service's forms to the client when a booking is made."
    quiet = (
        f", never between {rule.quiet_start:%H:%M} and {rule.quiet_end:%H:%M}"
        if rule.quiet_start and rule.quiet_end
        else ""
    )
    if rule.kind == kind.BOOKING_REMINDER:
        return f"Reminds the client {_hours_label(rule.offset_minutes)} before the booking{quiet}."
    if rule.kind == kind.PAUSE_ON_REPLY:
        return "Stops automated messages to a client once staff reply, until someone resumes them."
    if rule.kind == kind.FORM_OVERDUE:
        return "Marks forms not filled in on time as overdue and alerts staff."
    if rule.kind == kind.FORM_REMINDER:
        points = []
        if rule.after_sent_minutes is not None:
            points.append(f"{_hours_label(rule.after_sent_minutes)} after it was sent")
        if rule.before_booking_minutes is not None:
            points.append(f"{_hours_label(rule.before_booking_minutes)} before its booking")
        if not points:
            return "Both reminder times are empty: no form reminder is sent."
        return (
            f"Reminds clients of a form they have not filled in, with its link: "
            f"{' and '.join(points)}{quiet}."
        )
    if rule.kind == kind.STOCK_LOW:
        reach = [
            text
            for on, text in (
                (rule.email_owners, "emails the owners"),
                (rule.inbox_owners, "posts to the owners' inbox"),
            )
            if on
        ]
        owners = f" and {' and '.join(reach)}" if reach else ""
        return (
            "Alerts staff when an item runs below its threshold, and critically when it is out "
            f"or short for the next day's bookings{owners}."
        )
    if rule.kind == kind.MISSED_MESSAGE:
        return (
            f"Alerts staff when a client's message waits {_hours_label(rule.offset_minutes)} "
            "of working time for a reply."
        )
    if rule.kind == kind.BOOKING_UNCONFIRMED:
        return (
            "Alerts staff when a booking is still pending "
            f"{_hours_label(rule.offset_minutes)} before its start."
        )
    if rule.kind == kind.INTEGRATION_FAILURE:
        return "Alerts the owners when a provider you send through fails."
    return ""


def _show_errors(form, exc: DomainError) -> None:
    """The service's refusal on the form, its field names translated to the form's."""
    if any(name in exc.fields for name in SERVICE_FIELDS):
        exc = InvalidInput(
            exc.message,
            fields={
                SERVICE_FIELDS.get(name, name): problems for name, problems in exc.fields.items()
            },
        )
    add_domain_errors(form, exc)


class RuleListView(SettingsPageMixin, View):
    def get(self, request):
        rules = rules_for(request.workspace)
        rows = [
            {"rule": rules[kind], "summary": rule_summary(rules[kind])}
            for kind in Rule.Kind.values
            if kind in rules
        ]
        return self.render("automation/settings_rules.html", {"rows": rows})


class RuleToggleView(SettingsPageMixin, View):
    """Switch a rule on or off (is_enabled=1 or 0)."""

    def post(self, request, pk: int):
        rule = _rule_or_404(request, pk)
        enabled = request.POST.get("is_enabled") in ("1", "true", "on")
        error, status = "", 200
        try:
            rule = rule_update(rule=rule, actor=request.user, is_enabled=enabled)
        except DomainError as exc:
            error, status = exc.message, exc.status_code
            rule = _rule_or_404(request, pk)
        back_to_edit = request.POST.get("next") == "edit"
        if request.htmx:
            context = {"rule": rule, "toggle_error": error, "next": "edit" if back_to_edit else ""}
            return self.render("automation/_rule_toggle.html", context, status)
        if error:
            messages.error(request, error)
        else:
            state = "on" if rule.is_enabled else "off"
            messages.success(request, f"“{rule.get_kind_display()}” is {state}.")
        if back_to_edit:
            return redirect("settings-automation-rule", pk=rule.pk)
        return redirect("settings-automation")


class RuleEditView(SettingsPageMixin, View):
    """A rule's message and settings, and its "Try it" box."""

    def try_choices(self, rule: Rule) -> tuple[str, dict[int, object], list[tuple[int, str]]]:
        """What the rule is tried on, the candidates by pk, and the select's choices."""
        kind = TRY_TARGETS.get(rule.kind)
        workspace = self.request.workspace
        if kind == "contact":
            contacts = Contact.objects.for_workspace(workspace).order_by("-created_at", "-pk")
            found = {c.pk: c for c in contacts[:TRY_CHOICES]}
            choices = [(pk, _contact_label(c)) for pk, c in found.items()]
        elif kind == "booking":
            bookings = (
                Booking.objects.for_workspace(workspace)
                .select_related("contact", "booking_type")
                .order_by("-start", "-pk")
            )
            found = {b.pk: b for b in bookings[:TRY_CHOICES]}
            zone = ZoneInfo(workspace.timezone)
            choices = [(pk, _booking_label(b, zone)) for pk, b in found.items()]
        else:
            return "", {}, []
        return kind, found, choices

    def page(self, rule, form, *, try_form=None, dry_run=None, status=200):
        kind = TRY_TARGETS.get(rule.kind, "")
        if kind and try_form is None:
            try_form = TryForm(kind=kind, choices=self.try_choices(rule)[2])
        context = {
            "rule": rule,
            "summary": rule_summary(rule),
            "form": form,
            "try_kind": kind,
            "try_form": try_form,
            "dry_run": dry_run,
        }
        return self.render("automation/settings_rule_form.html", context, status)

    def get(self, request, pk: int):
        rule = _rule_or_404(request, pk)
        return self.page(rule, RuleForm(rule=rule))

    def post(self, request, pk: int):
        rule = _rule_or_404(request, pk)
        form = RuleForm(request.POST, rule=rule)
        if form.is_valid():
            try:
                rule = rule_update(rule=rule, actor=request.user, **form.changes())
            except DomainError as exc:
                _show_errors(form, exc)
            else:
                messages.success(request, f"“{rule.get_kind_display()}” is saved.")
                return redirect("settings-automation")
        return self.page(_rule_or_404(request, pk), form, status=400)


class RuleTryView(RuleEditView):
    """A dry run: what the rule would send to the chosen contact or booking, sending nothing.
    htmx gets the result box; a plain post gets the edit page with it."""

    def get(self, request, pk: int):
        return redirect("settings-automation-rule", pk=_rule_or_404(request, pk).pk)

    def post(self, request, pk: int):
        rule = _rule_or_404(request, pk)
        kind, found, choices = self.try_choices(rule)
        if not kind:
            return redirect("settings-automation-rule", pk=pk)
        try_form = TryForm(request.POST, kind=kind, choices=choices)
        dry_run, status = None, 400
        if try_form.is_valid():
            target = found[try_form.cleaned_data["target"]]
            try:
                dry_run = rule_dry_run(rule=rule, **{kind: target})
            except DomainError as exc:
                _show_errors(try_form, exc)
            else:
                status = 200
        if request.htmx:
            context = {"rule": rule, "try_kind": kind, "try_form": try_form, "dry_run": dry_run}
            return self.render("automation/_dry_run.html", context, status)
        return self.page(
            rule, RuleForm(rule=rule), try_form=try_form, dry_run=dry_run, status=status
        )


def _contact_label(contact: Contact) -> str:
    reach = contact.email or contact.phone
    return f"{contact.display_name} ({reach})" if reach else contact.display_name


def _booking_label(booking: Booking, zone: ZoneInfo) -> str:
    start = timezone.localtime(booking.start, zone)
    return (
        f"{start:%a} {start.day} {start:%b %Y %H:%M} · {booking.booking_type.name} · "
        f"{booking.contact.display_name} ({booking.get_status_display().lower()})"
    )
