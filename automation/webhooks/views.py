"""The owner's webhook pages in the settings area: the endpoints, adding one (its secret shown
once), and each one's page with its recent deliveries, a test ping, enabling and removing it.

Owners only (staff get 403)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.views import View

from automation.models import WebhookEndpoint
from automation.views.rules import SettingsPageMixin
from automation.webhooks import delivery, selectors, services
from automation.webhooks.forms import WebhookEndpointForm, WebhookEndpointNewForm
from careops.crypto import mask
from careops.errors import DomainError
from careops.forms import add_domain_errors

RECENT_DELIVERIES = 25


def _endpoint_or_404(request, pk: int) -> WebhookEndpoint:
    return get_object_or_404(
        selectors.webhook_endpoints_for_workspace(workspace=request.workspace), pk=pk
    )


class WebhookListView(SettingsPageMixin, View):
    def get(self, request):
        endpoints = selectors.webhook_endpoints_for_workspace(workspace=request.workspace)
        return self.render(
            "automation/settings_webhooks.html",
            {"endpoints": list(endpoints), "max_endpoints": services.MAX_ENDPOINTS},
        )


class WebhookNewView(SettingsPageMixin, View):
    """Add an endpoint. The answer to a successful post is the page with the secret in full:
    it is never shown again (no redirect, so it is not kept in the session either)."""

    def get(self, request):
        form = WebhookEndpointNewForm()
        return self.render("automation/settings_webhook_new.html", {"form": form})

    def post(self, request):
        form = WebhookEndpointNewForm(request.POST)
        if form.is_valid():
            try:
                endpoint = services.webhook_endpoint_create(
                    workspace=request.workspace, actor=request.user, **form.cleaned_data
                )
            except DomainError as exc:
                add_domain_errors(form, exc)
            else:
                return self.render(
                    "automation/settings_webhook_created.html", {"endpoint": endpoint}
                )
        return self.render("automation/settings_webhook_new.html", {"form": form}, status=400)


class WebhookDetailView(SettingsPageMixin, View):
    """The endpoint: its settings (edited here), its state and its recent deliveries."""

    def page(self, endpoint: WebhookEndpoint, form: WebhookEndpointForm, status: int = 200):
        deliveries = selectors.webhook_deliveries_recent(endpoint=endpoint)[:RECENT_DELIVERIES]
        context = {
            "endpoint": endpoint,
            "form": form,
            "deliveries": list(deliveries),
            "secret_hint": mask(endpoint.secret or ""),
        }
        return self.render("automation/settings_webhook.html", context, status)

    def get(self, request, pk: int):
        endpoint = _endpoint_or_404(request, pk)
        return self.page(endpoint, WebhookEndpointForm.for_endpoint(endpoint))

    def post(self, request, pk: int):
        endpoint = _endpoint_or_404(request, pk)
        form = WebhookEndpointForm(request.POST)
        if form.is_valid():
            try:
                services.webhook_endpoint_update(
                    endpoint=endpoint, actor=request.user, **form.cleaned_data
                )
            except DomainError as exc:
                add_domain_errors(form, exc)
            else:
                messages.success(request, "The webhook is saved.")
                return redirect("settings-webhook", pk=endpoint.pk)
        return self.page(_endpoint_or_404(request, pk), form, status=400)


class WebhookTestView(SettingsPageMixin, View):
    def post(self, request, pk: int):
        endpoint = _endpoint_or_404(request, pk)
        ping = delivery.webhook_endpoint_ping(endpoint=endpoint, actor=request.user)
        if ping.status == ping.Status.SUCCEEDED:
            messages.success(
                request,
                f"The test ping was answered with {ping.last_status_code} "
                f"in {ping.last_response_ms} ms.",
            )
        else:
            messages.error(request, f"The test ping failed: {ping.last_error}")
        return redirect("settings-webhook", pk=endpoint.pk)


class WebhookEnableView(SettingsPageMixin, View):
    def post(self, request, pk: int):
        endpoint = services.webhook_endpoint_enable(
            endpoint=_endpoint_or_404(request, pk), actor=request.user
        )
        messages.success(request, "The webhook is on again: new events will be sent to it.")
        return redirect("settings-webhook", pk=endpoint.pk)


class WebhookDeleteView(SettingsPageMixin, View):
    def post(self, request, pk: int):
        endpoint = _endpoint_or_404(request, pk)
        services.webhook_endpoint_delete(endpoint=endpoint, actor=request.user)
        messages.success(request, f"The webhook to {endpoint.url} is removed.")
        return redirect("settings-webhooks")
