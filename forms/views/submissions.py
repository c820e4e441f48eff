"""The staff's side of forms sent to clients: the list (htmx status and template filters), one
submission (answers, files, signature; resend), a file's download, and sending a form by hand.

Uploaded files are never served from MEDIA_URL: the download page checks the workspace and
streams the file from storage."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db.models import F
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.http import urlencode
from django.views import View
from django.views.generic import ListView

from bookings.models import Booking
from careops.errors import DomainError, InvalidInput, NotFound
from careops.forms import add_domain_errors
from careops.tenancy import WorkspacePageMixin
from contacts.models import Contact
from forms import selectors
from forms.files import upload_response
from forms.models import FormSubmission, FormTemplate
from forms.services import form_send_once, submission_resend
from messaging.models import Channel

PAGE_SIZE = 25
AUTO_CHANNEL = ""

# The list's status tabs: (value, label); "" is every status.
STATUS_TABS = [("", "All"), *FormSubmission.Status.choices]


def live_templates(workspace):
    return FormTemplate.objects.for_workspace(workspace).filter(archived_at__isnull=True)


class SubmissionFilterForm(forms.Form):
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "Any status"), *FormSubmission.Status.choices]
    )
    template = forms.TypedChoiceField(label="Form", coerce=int, empty_value=None, required=False)

    def __init__(self, *args, templates=(), **kwargs):
        super().__init__(*args, **kwargs)
        # Archived forms stay in the filter: their submissions are still there to be found.
        self.fields["template"].choices = [("", "Any form")] + [
            (t.pk, f"{t.name} (archived)" if t.archived_at else t.name) for t in templates
        ]

    def filters(self) -> dict:
        """The valid filters; an invalid one (a stale bookmark) is ignored, as if not given."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {key: data[key] for key in ("status", "template") if data.get(key)}


class FormSendForm(forms.Form):
    template = forms.ModelChoiceField(
        label="Form", queryset=FormTemplate.objects.none(), empty_label="Choose a form"
    )
    contact = forms.ModelChoiceField(
        label="Client", queryset=Contact.objects.none(), empty_label="Choose a client"
    )
    channel = forms.ChoiceField(
        label="Send by",
        required=False,
        choices=[(AUTO_CHANNEL, "The client's usual channel"), *Channel.choices],
    )

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = live_templates(workspace).filter(is_active=True)
        self.fields["contact"].queryset = Contact.objects.for_workspace(workspace).order_by(
            "name", "email", "pk"
        )


# The service names the API's fields; the page's form names them without "_id".
SEND_FIELDS = {"contact_id": "contact", "booking_id": "__all__"}


def _on_page_fields(exc: DomainError) -> DomainError:
    if not exc.fields:
        return exc
    fields: dict[str, list[str]] = {}
    for name, problems in exc.fields.items():
        fields.setdefault(SEND_FIELDS.get(name, name), []).extend(problems)
    return InvalidInput(exc.message, fields=fields)


def _submission_or_404(request, pk: int) -> FormSubmission:
    try:
        return selectors.submission_get(workspace=request.workspace, pk=pk)
    except NotFound:
        raise Http404("Form submission not found.") from None


# --- The list ---------------------------------------------------------------------------------


class SubmissionListView(WorkspacePageMixin, ListView):
    """The list; htmx requests (a tab or the form filter) get only the results partial."""

    template_name = "forms/submission_list.html"
    paginate_by = PAGE_SIZE
    context_object_name = "submissions"

    def get_queryset(self):
        templates = FormTemplate.objects.for_workspace(self.request.workspace).order_by(
            F("archived_at").asc(nulls_first=True), "name", "pk"
        )
        self.filter_form = SubmissionFilterForm(self.request.GET or None, templates=templates)
        self.filters = self.filter_form.filters()
        return selectors.submissions_for_workspace(workspace=self.request.workspace, **self.filters)

    def get_template_names(self):
        if self.request.htmx and not self.request.htmx.boosted:
            return ["forms/_submission_rows.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        status = self.filters.get("status", "")
        others = {k: v for k, v in self.filters.items() if k != "status"}
        tabs = [
            {
                "value": value,
                "label": label,
                "query": urlencode({**others, **({"status": value} if value else {})}),
                "current": value == status,
            }
            for value, label in STATUS_TABS
        ]
        context.update(
            filter_form=self.filter_form,
            filters=self.filters,
            filter_query=urlencode(self.filters),
            status_tabs=tabs,
            status=status,
        )
        return context


# --- One submission ---------------------------------------------------------------------------


class SubmissionDetailView(WorkspacePageMixin, View):
    def get(self, request, pk: int):
        submission = _submission_or_404(request, pk)
        context = {
            "submission": submission,
            "answers": selectors.submission_answers(submission),
        }
        return render(request, "forms/submission_detail.html", context)


class SubmissionResendView(WorkspacePageMixin, View):
    def get(self, request, pk: int):
        return redirect("form-submission-detail", pk=_submission_or_404(request, pk).pk)

    def post(self, request, pk: int):
        submission = _submission_or_404(request, pk)
        try:
            submission_resend(submission=submission, actor=request.user)
        except DomainError as exc:
            problems = [p for found in exc.fields.values() for p in found]
            messages.error(request, " ".join(problems) or exc.message)
        else:
            messages.success(request, f"A new link is on its way to {submission.contact}.")
        return redirect("form-submission-detail", pk=pk)


class UploadDownloadView(WorkspacePageMixin, View):
    """A client's file, for a member of its workspace only."""

    def get(self, request, pk: int, upload_pk: int):
        try:
            upload = selectors.upload_get(workspace=request.workspace, submission=pk, pk=upload_pk)
        except NotFound:
            raise Http404("File not found.") from None
        return upload_response(upload)


# --- Sending a form by hand -------------------------------------------------------------------


def parse_id(raw: str | None) -> int | None:
    """A positive id from the query string, or None: ASCII digits only ("²".isdigit() is true,
    and int() refuses it), and no longer than a bigint's."""
    raw = (raw or "").strip()
    if not raw or not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        return None
    return int(raw) or None


class FormSendView(WorkspacePageMixin, View):
    """Send a form to a client: the client preselected with ?contact=, a booking's form with
    ?booking= (its client preselected; a booking not found is a 404, a contact not found is
    ignored). A booking is sent each form once: sending it again shows the one sent, and offers
    a new link instead."""

    template_name = "forms/send.html"

    def booking(self, request):
        raw = request.GET.get("booking") or request.POST.get("booking") or ""
        if not raw:
            return None
        pk = parse_id(raw)
        booking = (
            Booking.objects.for_workspace(request.workspace)
            .select_related("contact", "booking_type")
            .filter(pk=pk)
            .first()
            if pk
            else None
        )
        if booking is None:
            raise Http404("Booking not found.")
        return booking

    def get(self, request):
        booking = self.booking(request)
        initial = {}
        if booking is not None:
            initial["contact"] = booking.contact_id
        elif contact := parse_id(request.GET.get("contact")):
            initial["contact"] = contact
        form = FormSendForm(initial=initial, workspace=request.workspace)
        return self.render(form, booking)

    def post(self, request):
        booking = self.booking(request)
        form = FormSendForm(request.POST, workspace=request.workspace)
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                submission, created = form_send_once(
                    workspace=request.workspace,
                    template=data["template"],
                    contact=data["contact"],
                    booking=booking,
                    actor=request.user,
                    channel=data["channel"] or None,
                )
            except DomainError as exc:
                add_domain_errors(form, _on_page_fields(exc))
                status = exc.status_code
            else:
                if not created:
                    # Nothing was sent: say so, and offer what staff most likely want.
                    return self.render(form, booking, status=200, already=submission)
                messages.success(
                    request, f"{submission.template_name} is sent to {data['contact']}."
                )
                return redirect("form-submission-detail", pk=submission.pk)
        return self.render(form, booking, status)

    def render(self, form, booking, status: int = 200, already: FormSubmission | None = None):
        context = {"form": form, "booking": booking, "already": already}
        return render(self.request, self.template_name, context, status=status)


urlpatterns: list = [
    path("forms/", SubmissionListView.as_view(), name="forms"),
    path("forms/send/", FormSendView.as_view(), name="form-send"),
    path(
        "forms/submissions/<int:pk>/",
        SubmissionDetailView.as_view(),
        name="form-submission-detail",
    ),
    path(
        "forms/submissions/<int:pk>/resend/",
        SubmissionResendView.as_view(),
        name="form-submission-resend",
    ),
    path(
        "forms/submissions/<int:pk>/files/<int:upload_pk>/",
        UploadDownloadView.as_view(),
        name="form-upload-download",
    ),
]
