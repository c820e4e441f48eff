"""The form builder: the list of a workspace's forms (every member), a form's preview (every
member), and designing one (owners; staff get 403): its details, and its fields added, edited,
removed and moved up or down.

Every change goes through the template services (template_update for the details, the
template_field_* ones for a field: they apply the change to the fields as stored, with the row
locked, so that two people designing at once lose nothing), so that the field rules live in one
place (forms/fields.py); a refusal comes back as messages on the form's inputs. htmx requests get
the field list (the partial they swap); every action also works as a plain form post.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views import View

from bookings.models import BookingType
from careops.errors import DomainError, NotFound
from careops.tenancy import WorkspacePageMixin
from forms import selectors, services
from forms.fields import CHOICE_TYPES, FIELD_TYPES
from forms.models import FormTemplate
from forms.rendering import field_rows
from forms.services.templates import FIELD_GONE
from forms.views.builder_forms import FieldForm, TemplateDetailsForm

BUILDER_FIELDS = "forms/_builder_fields.html"

# --- Helpers ----------------------------------------------------------------------------------


def _template_or_404(request, pk: int) -> FormTemplate:
    try:
        return selectors.template_get(workspace=request.workspace, pk=pk)
    except NotFound:
        raise Http404("Form not found.") from None


def _booking_types(workspace) -> list[BookingType]:
    return list(BookingType.objects.for_workspace(workspace).only("id", "name").order_by("name"))


def _builder_url(template: FormTemplate, key: str = "") -> str:
    url = reverse("form-template-edit", args=[template.pk])
    return f"{url}#field-{key}" if key else url


class FormsPageMixin(WorkspacePageMixin):
    def render(self, template: str, context: dict, status: int = 200) -> HttpResponse:
        with timezone.override(ZoneInfo(self.request.workspace.timezone)):
            return render(self.request, template, context, status=status)


class OwnerPageMixin(FormsPageMixin):
    owner_only = True


class BuilderMixin(OwnerPageMixin):
    """The builder page, whole or (htmx) only its field list."""

    def fields_context(
        self,
        template: FormTemplate,
        *,
        add_form: FieldForm | None = None,
        edit_key: str = "",
        edit_form: FieldForm | None = None,
        notice: str = "",
    ) -> dict[str, Any]:
        count = len(template.fields)
        rows = [
            {
                "field": field,
                "type_label": FIELD_TYPES.get(field.get("type"), field.get("type")),
                "is_choice": field.get("type") in CHOICE_TYPES,
                "first": index == 0,
                "last": index == count - 1,
                "form": (edit_form or FieldForm.for_field(field, prefix="edit"))
                if field.get("key") == edit_key
                else None,
            }
            for index, field in enumerate(template.fields)
        ]
        return {
            "template": template,
            "archived": template.archived_at is not None,
            "rows": rows,
            "add_form": add_form or FieldForm(prefix="add"),
            "notice": notice,
        }

    def page(
        self,
        template: FormTemplate,
        *,
        details_form: TemplateDetailsForm | None = None,
        status: int = 200,
        **fields_kwargs,
    ) -> HttpResponse:
        context = self.fields_context(template, **fields_kwargs)
        if self.request.htmx and not self.request.htmx.history_restore_request:
            return self.render(BUILDER_FIELDS, context, status)
        if details_form is None:
            booking_types = _booking_types(self.request.workspace)
            details_form = TemplateDetailsForm.for_template(template, booking_types=booking_types)
        context["details_form"] = details_form
        return self.render("forms/template_builder.html", context, status)

    def change_field(
        self,
        template: FormTemplate,
        change: Callable[[], tuple[FormTemplate, Any]],
        *,
        done: Callable[[Any], str],
        form: FieldForm | None = None,
        form_kwargs: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """Run one of the field services (`change`); the refusal on `form`, or in a notice when
        no form was posted. `done` makes the message from what the service answered."""
        try:
            template, outcome = change()
        except DomainError as exc:
            template = _template_or_404(self.request, template.pk)  # what is stored
            kwargs = dict(form_kwargs or {})
            if form is not None:
                form.add_service_errors(exc)
            else:
                kwargs["notice"] = exc.message
            return self.page(template, status=exc.status_code, **kwargs)
        message = done(outcome)
        if self.request.htmx:
            return self.page(template, notice=message)
        messages.success(self.request, message)
        key = outcome.get("key", "") if isinstance(outcome, dict) else ""
        return redirect(_builder_url(template, key))


# --- Pages ------------------------------------------------------------------------------------


class TemplateListView(FormsPageMixin, View):
    """Every member sees the forms; owners get New and Edit. ?archived=1 lists archived too."""

    def get(self, request):
        show_archived = request.GET.get("archived") == "1"
        templates = selectors.templates_for_workspace(
            workspace=request.workspace, include_archived=show_archived
        )
        context = {"templates": templates, "show_archived": show_archived}
        return self.render("forms/template_list.html", context)


class TemplateNewView(OwnerPageMixin, View):
    """Name the form and choose its services; its fields are added on the builder next."""

    def page(self, form: TemplateDetailsForm, status: int = 200) -> HttpResponse:
        return self.render("forms/template_builder.html", {"details_form": form}, status)

    def get(self, request):
        return self.page(TemplateDetailsForm(booking_types=_booking_types(request.workspace)))

    def post(self, request):
        form = TemplateDetailsForm(request.POST, booking_types=_booking_types(request.workspace))
        if form.is_valid():
            try:
                template = services.template_create(
                    workspace=request.workspace, actor=request.user, **form.service_arguments()
                )
            except DomainError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, f"“{template.name}” is created: now add its fields.")
                return redirect(_builder_url(template))
        return self.page(form, status=400)


class TemplateBuilderView(BuilderMixin, View):
    """The builder: the details form (posted here) and the field list (?edit=<key> opens a
    field's editor; htmx swaps the list alone)."""

    def get(self, request, pk: int):
        template = _template_or_404(request, pk)
        return self.page(template, edit_key=request.GET.get("edit", ""))

    def post(self, request, pk: int):
        template = _template_or_404(request, pk)
        form = TemplateDetailsForm(request.POST, booking_types=_booking_types(request.workspace))
        if form.is_valid():
            try:
                services.template_update(
                    template=template, actor=request.user, **form.service_arguments()
                )
            except DomainError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, f"“{template.name}” is saved.")
                return redirect(_builder_url(template))
        template = _template_or_404(request, pk)  # the heading shows what is stored
        return self.page(template, details_form=form, status=400)


class FieldAddView(BuilderMixin, View):
    def get(self, request, pk: int):
        return redirect(_builder_url(_template_or_404(request, pk)))

    def post(self, request, pk: int):
        template = _template_or_404(request, pk)
        form = FieldForm(request.POST, prefix="add")
        if not form.is_valid():
            return self.page(template, add_form=form, status=400)
        definition = form.definition()
        return self.change_field(
            template,
            lambda: services.template_field_add(
                template=template, actor=request.user, definition=definition
            ),
            done=lambda field: f"“{field['label']}” is added.",
            form=form,
            form_kwargs={"add_form": form},
        )


class FieldEditView(BuilderMixin, View):
    def get(self, request, pk: int, key: str):
        template = _template_or_404(request, pk)
        return redirect(f"{reverse('form-template-edit', args=[template.pk])}?edit={key}")

    def post(self, request, pk: int, key: str):
        template = _template_or_404(request, pk)
        if not any(field.get("key") == key for field in template.fields):
            raise Http404(FIELD_GONE)
        form = FieldForm(request.POST, prefix="edit")
        form_kwargs = {"edit_key": key, "edit_form": form}
        if not form.is_valid():
            return self.page(template, status=400, **form_kwargs)
        definition = form.definition()
        return self.change_field(
            template,
            lambda: services.template_field_update(
                template=template, actor=request.user, key=key, definition=definition
            ),
            done=lambda field: f"“{field['label']}” is saved.",
            form=form,
            form_kwargs=form_kwargs,
        )


class FieldRemoveView(BuilderMixin, View):
    def post(self, request, pk: int, key: str):
        template = _template_or_404(request, pk)
        return self.change_field(
            template,
            lambda: services.template_field_remove(template=template, actor=request.user, key=key),
            done=lambda removed: f"“{removed['label']}” is removed.",
        )


class FieldMoveView(BuilderMixin, View):
    """Move a field one place up or down (direction=up|down); at either end, nothing moves."""

    def post(self, request, pk: int, key: str):
        template = _template_or_404(request, pk)
        direction = request.POST.get("direction", "")
        if direction not in ("up", "down"):
            direction = ""  # nothing to move: the page as it is
        try:
            template, moved = (
                services.template_field_move(
                    template=template, actor=request.user, key=key, direction=direction
                )
                if direction
                else (template, False)
            )
        except DomainError as exc:
            if exc.status_code == 404:
                raise Http404(exc.message) from None
            template = _template_or_404(request, pk)
            return self.page(template, status=exc.status_code, notice=exc.message)
        field = next((f for f in template.fields if f.get("key") == key), None)
        if not moved or field is None:
            if request.htmx:
                return self.page(template)
            return redirect(_builder_url(template, key))
        done = f"“{field['label']}” is moved {direction}."
        if request.htmx:
            return self.page(template, notice=done)
        messages.success(request, done)
        return redirect(_builder_url(template, key))


class TemplatePreviewView(FormsPageMixin, View):
    """The form as the client will see it, inputs disabled. Every member may look."""

    def get(self, request, pk: int):
        template = _template_or_404(request, pk)
        context = {
            "template": template,
            "rows": field_rows(template.fields),
            "preview": True,
        }
        return self.render("forms/template_preview.html", context)


class TemplateArchiveView(OwnerPageMixin, View):
    def post(self, request, pk: int):
        template = _template_or_404(request, pk)
        services.template_archive(template=template, actor=request.user)
        messages.success(
            request, f"“{template.name}” is archived: it is no longer sent. Its answers are kept."
        )
        return redirect("form-templates")


urlpatterns: list = [
    path("forms/templates/", TemplateListView.as_view(), name="form-templates"),
    path("forms/templates/new/", TemplateNewView.as_view(), name="form-template-new"),
    path("forms/templates/<int:pk>/", TemplateBuilderView.as_view(), name="form-template-edit"),
    path(
        "forms/templates/<int:pk>/preview/",
        TemplatePreviewView.as_view(),
        name="form-template-preview",
    ),
    path(
        "forms/templates/<int:pk>/archive/",
        TemplateArchiveView.as_view(),
        name="form-template-archive",
    ),
    path(
        "forms/templates/<int:pk>/fields/",
        FieldAddView.as_view(),
        name="form-template-field-add",
    ),
    path(
        "forms/templates/<int:pk>/fields/<slug:key>/",
        FieldEditView.as_view(),
        name="form-template-field-edit",
    ),
    path(
        "forms/templates/<int:pk>/fields/<slug:key>/remove/",
        FieldRemoveView.as_view(),
        name="form-template-field-remove",
    ),
    path(
        "forms/templates/<int:pk>/fields/<slug:key>/move/",
        FieldMoveView.as_view(),
        name="form-template-field-move",
    ),
]
