"""The owner's messaging settings: the providers messages go out through (integrations), in
their fallback order, and the message templates staff pick as canned replies.

Owners only (staff get 403; they use templates from the inbox). htmx requests get the partial
they swap; every action also works as a plain form post.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from careops.errors import DomainError
from careops.forms import add_domain_errors
from careops.tenancy import WorkspacePageMixin
from messaging import integrations, message_templates, selectors
from messaging.models import Channel, Integration, MessageTemplate
from messaging.providers import PROVIDERS
from messaging.rendering import template_validate
from messaging.settings_forms import (
    IntegrationForm,
    IntegrationTestForm,
    MessageTemplateForm,
    ProviderChoiceForm,
    credential_label,
)

WEBHOOK_LABELS = {
    "inbound_sms": "A message comes in (incoming SMS)",
    "status": "Status callback (delivery reports)",
}


class SettingsPageMixin(WorkspacePageMixin):
    """Owner-only pages, rendered in the workspace's time zone."""

    owner_only = True

    def render(self, template: str, context: dict, status: int = 200) -> HttpResponse:
        with timezone.override(ZoneInfo(self.request.workspace.timezone)):
            return render(self.request, template, context, status=status)


def _provider_label(key: str) -> str:
    spec = PROVIDERS.get(key)
    return spec.label if spec else key


# --- Integrations -------------------------------------------------------------------------------


@dataclass
class IntegrationRow:
    """One integration as the list shows it: never its credentials, only their masks."""

    integration: Integration
    test_form: IntegrationTestForm = field(default_factory=IntegrationTestForm)
    test_result: dict | None = None

    @property
    def label(self) -> str:
        return _provider_label(self.integration.provider)

    @cached_property
    def credentials(self) -> list[tuple[str, str]]:
        masked = integrations.credentials_masked(self.integration)
        return [(credential_label(self.integration.provider, k), v) for k, v in masked.items()]

    @cached_property
    def webhook_urls(self) -> list[tuple[str, str]]:
        urls = integrations.integration_webhook_urls(self.integration)
        return [(WEBHOOK_LABELS.get(name, name), url) for name, url in urls.items()]


def _integration_or_404(request, pk: int) -> Integration:
    workspace = request.workspace
    integration = get_object_or_404(
        selectors.integrations_for_workspace(workspace=workspace), pk=pk
    )
    integration.workspace = workspace  # the test email names it: spares a query
    return integration


def _integrations_page(view: SettingsPageMixin, row: IntegrationRow | None = None, status=200):
    """The list, grouped by channel in fallback order; `row` replaces its integration's row
    (to show a refused test with its error)."""
    rows = [
        row
        if row is not None and row.integration.pk == integration.pk
        else IntegrationRow(integration)
        for integration in selectors.integrations_for_workspace(workspace=view.request.workspace)
    ]
    groups = [
        (value, label, [r for r in rows if r.integration.channel == value])
        for value, label in Channel.choices
    ]
    return view.render("messaging/settings_integrations.html", {"groups": groups}, status)


class IntegrationListView(SettingsPageMixin, View):
    def get(self, request):
        return _integrations_page(self)


class IntegrationNewView(SettingsPageMixin, View):
    """Choose a provider, then fill in its fields. The provider select reloads the form for
    that provider (htmx, or ?provider= without JavaScript)."""

    def page(self, chooser: ProviderChoiceForm, form: IntegrationForm | None, status: int = 200):
        context = {"chooser": chooser, "form": form}
        # The select pushes ?provider= into the history: restoring it needs the whole page.
        if self.request.htmx and not self.request.htmx.history_restore_request:
            return self.render("messaging/_settings_integration_form.html", context, status)
        return self.render("messaging/settings_integration_new.html", context, status)

    def chooser(self, key: str) -> ProviderChoiceForm:
        available = integrations.providers_available()
        return ProviderChoiceForm({"provider": key} if key else None, providers=available)

    def get(self, request):
        key = request.GET.get("provider", "")
        chooser = self.chooser(key)
        if not key:
            return self.page(chooser, None)
        if not chooser.is_valid():
            return self.page(chooser, None, status=400)
        return self.page(chooser, IntegrationForm(spec=PROVIDERS[key]))

    def post(self, request):
        key = request.POST.get("provider", "")
        chooser = self.chooser(key)
        if not chooser.is_valid():
            return self.page(chooser, None, status=400)
        form = IntegrationForm(request.POST, spec=PROVIDERS[key])
        if form.is_valid():
            try:
                integration = integrations.integration_create(
                    workspace=request.workspace, actor=request.user, **form.service_arguments()
                )
            except DomainError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(
                    request, f"{form.spec.label} is added. Send a test to check that it works."
                )
                url = reverse("settings-integrations")
                return redirect(f"{url}#integration-{integration.pk}")
        return self.page(chooser, form, status=400)


class IntegrationTestView(SettingsPageMixin, View):
    """Send a test through one integration: an email to the owner, or an SMS to a number."""

    def post(self, request, pk: int):
        integration = _integration_or_404(request, pk)
        form = IntegrationTestForm(request.POST)
        form.is_valid()  # one optional text field: always valid
        row, status = IntegrationRow(integration, form), 200
        try:
            row.test_result = integrations.integration_test(
                integration=integration, actor=request.user, to=form.cleaned_data["to"] or None
            )
        except DomainError as exc:
            add_domain_errors(form, exc)
            status = 400
        if request.htmx:
            return self.render("messaging/_settings_integration.html", {"row": row}, status)
        if status == 400:
            return _integrations_page(self, row, status)
        if row.test_result["ok"]:
            messages.success(request, f"{row.label} accepted the test message.")
        else:
            messages.error(request, f"{row.label} refused the test: {row.test_result['error']}")
        return redirect(f"{reverse('settings-integrations')}#integration-{integration.pk}")


class IntegrationDeleteView(SettingsPageMixin, View):
    def post(self, request, pk: int):
        integration = _integration_or_404(request, pk)
        integrations.integration_delete(integration=integration, actor=request.user)
        messages.success(
            request,
            f"{_provider_label(integration.provider)} ({integration.from_address}) is removed.",
        )
        return redirect("settings-integrations")


# --- Message templates --------------------------------------------------------------------------


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _template_or_404(request, pk: int) -> MessageTemplate:
    template = get_object_or_404(
        selectors.templates_for_workspace(workspace=request.workspace), pk=pk
    )
    template.workspace = request.workspace
    return template


class TemplateListView(SettingsPageMixin, View):
    def get(self, request):
        rows = [
            {"template": t, "first_line": _first_line(t.body)}
            for t in selectors.templates_for_workspace(workspace=request.workspace)
        ]
        return self.render("messaging/settings_templates.html", {"rows": rows})


def _preview(request, form: MessageTemplateForm) -> dict:
    """The draft rendered for a sample contact, or the sandbox's complaints on the fields."""
    if not form.is_valid():
        return {}
    data = form.cleaned_data
    draft = MessageTemplate(workspace=request.workspace, subject=data["subject"], body=data["body"])
    try:
        template_validate(draft.subject, draft.body)
        subject, body = message_templates.template_preview(
            template=draft, workspace=request.workspace
        )
    except DomainError as exc:
        add_domain_errors(form, exc)
        return {}
    return {"subject": subject, "body": body, "channel": data["channel"]}


class TemplatePreviewView(SettingsPageMixin, View):
    """The preview panel of the editor (htmx): the draft as a sample client would read it."""

    def post(self, request):
        form = MessageTemplateForm(request.POST)
        preview = _preview(request, form)
        status = 400 if form.errors else 200
        return self.render(
            "messaging/_settings_template_preview.html",
            {"form": form, "preview": preview},
            status,
        )


class TemplateFormView(SettingsPageMixin, View):
    """Add (pk None) or edit a template. The Preview button posts here too without JavaScript
    (name="preview"): the page comes back with the preview and nothing is saved."""

    def page(self, form, template=None, preview=None, status=200):
        context = {"form": form, "template": template, "preview": preview}
        return self.render("messaging/settings_template_form.html", context, status)

    def get(self, request, pk: int | None = None):
        if pk is None:
            return self.page(MessageTemplateForm())
        template = _template_or_404(request, pk)
        return self.page(MessageTemplateForm.for_template(template), template)

    def post(self, request, pk: int | None = None):
        template = _template_or_404(request, pk) if pk is not None else None
        form = MessageTemplateForm(request.POST)
        if "preview" in request.POST:
            preview = _preview(request, form)
            return self.page(form, template, preview, status=400 if form.errors else 200)
        if form.is_valid():
            try:
                if template is None:
                    template = message_templates.template_create(
                        workspace=request.workspace, actor=request.user, **form.cleaned_data
                    )
                else:
                    message_templates.template_update(
                        template=template, actor=request.user, **form.cleaned_data
                    )
            except DomainError as exc:
                add_domain_errors(form, exc)
            else:
                messages.success(request, f"“{template.name}” is saved.")
                return redirect("settings-templates")
        if template is not None and template.pk:
            template = _template_or_404(request, pk)  # the heading shows what is stored
        return self.page(form, template, status=400)


class TemplateDeleteView(SettingsPageMixin, View):
    def post(self, request, pk: int):
        template = _template_or_404(request, pk)
        message_templates.template_delete(template=template, actor=request.user)
        messages.success(request, f"“{template.name}” is deleted.")
        return redirect("settings-templates")
