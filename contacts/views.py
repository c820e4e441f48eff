"""Contacts pages: the list (htmx search), a contact with its timeline, adding, importing,
exporting, and the public contact form a business shares or embeds."""

from __future__ import annotations

import structlog
from csp.decorators import csp_replace
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views import View
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import ListView

from careops import rls
from careops.errors import DomainError, InvalidInput
from careops.forms import add_domain_errors
from careops.ratelimit import submission_allowed
from careops.tenancy import WorkspacePageMixin, staff_areas
from contacts import selectors, services
from contacts.csv_export import contacts_export_response
from contacts.csv_import import contacts_import_csv
from contacts.forms import ContactFilterForm, ContactForm, ContactImportForm, PublicContactForm
from contacts.models import Contact
from workspaces.models import Workspace

log = structlog.get_logger(__name__)

PAGE_SIZE = 25


def _filter_form(request) -> ContactFilterForm:
    tags = selectors.tags_for_workspace(workspace=request.workspace)
    return ContactFilterForm(request.GET or None, tags=tags)


class ContactListView(WorkspacePageMixin, ListView):
    """The list; htmx requests (typing in the search box) get only the results partial."""

    template_name = "contacts/contact_list.html"
    paginate_by = PAGE_SIZE
    context_object_name = "contacts"

    def get_queryset(self):
        self.filter_form = _filter_form(self.request)
        self.filters = self.filter_form.filters()
        return selectors.contacts_list(workspace=self.request.workspace, **self.filters)

    def get_template_names(self):
        if self.request.htmx and not self.request.htmx.boosted:
            return ["contacts/_contact_rows.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        active = {name: value for name, value in self.filters.items() if value}
        context.update(
            filter_form=self.filter_form,
            filters=active,
            filter_query=urlencode(active),
        )
        return context


class ContactExportView(WorkspacePageMixin, View):
    def get(self, request):
        filters = _filter_form(request).filters()
        return contacts_export_response(workspace=request.workspace, **filters)


def _contact_or_404(request, pk: int) -> Contact:
    contacts = Contact.objects.for_workspace(request.workspace).prefetch_related("tags")
    return get_object_or_404(contacts, pk=pk)


class ContactDetailView(WorkspacePageMixin, View):
    template_name = "contacts/contact_detail.html"

    def get(self, request, pk: int):
        contact = _contact_or_404(request, pk)
        return self.render(contact, ContactForm.for_contact(contact))

    def post(self, request, pk: int):
        contact = _contact_or_404(request, pk)
        form = ContactForm.for_contact(contact, request.POST)
        if form.is_valid():
            try:
                services.contact_update(contact=contact, actor=request.user, **form.cleaned_data)
            except DomainError as exc:
                add_domain_errors(form, exc)
            else:
                messages.success(request, f"{contact} is saved.")
                return redirect("contact-detail", pk=contact.pk)
        # The details beside the form show what is stored, not what was just refused.
        return self.render(_contact_or_404(request, pk), form)

    def render(self, contact: Contact, form: ContactForm):
        context = {
            "contact": contact,
            "form": form,
            "timeline": selectors.contact_timeline(
                contact=contact, areas=staff_areas(self.request.membership)
            ),
        }
        return render(self.request, self.template_name, context)


class ContactNewView(WorkspacePageMixin, View):
    template_name = "contacts/contact_new.html"

    def get(self, request):
        return render(request, self.template_name, {"form": ContactForm()})

    def post(self, request):
        form = ContactForm(request.POST)
        if form.is_valid():
            try:
                contact = services.contact_create(
                    workspace=request.workspace, actor=request.user, **form.cleaned_data
                )
            except DomainError as exc:
                add_domain_errors(form, exc)
                existing = exc.extra.get("existing_id")
                if existing:
                    url = reverse("contact-detail", args=[existing])
                    return render(request, self.template_name, {"form": form, "existing_url": url})
            else:
                messages.success(request, f"{contact} is added.")
                return redirect("contact-detail", pk=contact.pk)
        return render(request, self.template_name, {"form": form})


class ContactImportView(WorkspacePageMixin, View):
    template_name = "contacts/contact_import.html"

    def get(self, request):
        return render(request, self.template_name, {"form": ContactImportForm()})

    def post(self, request):
        form = ContactImportForm(request.POST, request.FILES)
        report = None
        if form.is_valid():
            try:
                report = contacts_import_csv(
                    workspace=request.workspace, actor=request.user, file=form.cleaned_data["file"]
                )
            except InvalidInput as exc:
                add_domain_errors(form, exc)
        return render(request, self.template_name, {"form": form, "report": report})


# --- The public contact form ------------------------------------------------------------------


def _is_member(request, workspace) -> bool:
    user = request.user
    return user.is_authenticated and workspace.memberships.filter(user=user).exists()


@csrf_exempt
@xframe_options_exempt
# Any site may frame it (the policy's frame-ancestors 'none' stands for every other page).
@csp_replace({"frame-ancestors": ["*"]})
def contact_form(request, slug: str):
    """The public form, embeddable in an iframe on the business's own site.

    CSRF protection is off on purpose: the form acts for no signed-in session (nothing to
    forge), and inside another site's iframe the CSRF cookie is third-party, which browsers
    drop, so every embedded submission would fail. The honeypot and the per-address rate limit
    stand guard instead."""
    workspace = get_object_or_404(Workspace, slug=slug)
    rls.narrow(workspace.pk)
    context = {"workspace": workspace, "state": "form"}
    if not workspace.is_active:
        if not _is_member(request, workspace):
            context["state"] = "not_live"  # instead of a form, while the owner is setting up
            return render(request, "contacts/contact_form.html", context)
        context["preview"] = True  # the team sees the form it is setting up; sending waits
    if request.method == "GET" and request.GET.get("sent"):
        context["state"] = "sent"
        return render(request, "contacts/contact_form.html", context)

    form = PublicContactForm(request.POST or None)
    context["form"] = form
    if request.method == "POST":
        if not submission_allowed(request, bucket=f"contact-form:{workspace.pk}"):
            context["state"] = "limited"
            return render(request, "contacts/contact_form.html", context, status=429)
        if form.is_bot():
            log.info("contact_form_honeypot", workspace_id=workspace.pk)
            return redirect(f"{reverse('contact-form', args=[slug])}?sent=1")
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.contact_form_submit(
                    workspace=workspace,
                    message=data["message"],
                    name=data["name"],
                    email=data["email"],
                    phone=data["phone"],
                    email_consent=data["email_consent"],
                    sms_consent=data["sms_consent"],
                )
            except DomainError as exc:
                add_domain_errors(form, exc)
            else:
                return redirect(f"{reverse('contact-form', args=[slug])}?sent=1")
    return render(request, "contacts/contact_form.html", context)
