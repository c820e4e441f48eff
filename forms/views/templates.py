"""The form builder: the list of a workspace's forms (every member), a form's preview (every
member), and designing one (owners; staff get 403): its details, and its fields added, edited,
removed and moved up or down.

Every change goes through forms.services.template_update, so that the field rules live in one
place (forms/fields.py); a refusal comes back as messages on the form's inputs. htmx requests get
the field list (the partial they swap); every action also works as a plain form post.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django import forms
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
from forms.fields import CHOICE_TYPES, FIELD_TYPES, TEXT
from forms.models import FormTemplate
from forms.rendering import field_rows

BUILDER_FIELDS = "forms/_builder_fields.html"

# --- Django forms: parse what was posted; the service decides what is valid ---------------------


class TemplateDetailsForm(forms.Form):
    name = forms.CharField(label="Name", required=False)
    description = forms.CharField(
        label="Description",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown to the client above the fields.",
    )
    due_hours = forms.IntegerField(
        label="Due within (hours)",
        initial=48,
        help_text="How long a client has to fill it in before it is overdue.",
    )
    is_active = forms.BooleanField(
        label="Active", required=False, initial=True, help_text="Inactive forms are kept, not sent."
    )
    booking_types = forms.TypedMultipleChoiceField(
        label="Send with bookings of",
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    # The service's names for what this form calls otherwise.
    service_names = {"booking_type_ids": "booking_types"}

    def __init__(self, *args, booking_types=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["booking_types"].choices = [(t.pk, t.name) for t in booking_types]
        if not booking_types:
            self.fields["booking_types"].help_text = "No services yet: add them under Settings."

    @classmethod
    def for_template(cls, template: FormTemplate, **kwargs) -> TemplateDetailsForm:
        initial = {
            "name": template.name,
            "description": template.description,
            "due_hours": template.due_hours,
            "is_active": template.is_active,
            "booking_types": [t.pk for t in template.booking_types.all()],
        }
        return cls(initial=initial, **kwargs)

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "description": data["description"],
            "due_hours": data["due_hours"],
            "is_active": data["is_active"],
            "booking_type_ids": data["booking_types"],
        }

    def add_service_errors(self, error: DomainError) -> None:
        for name, problems in error.fields.items():
            target = self.service_names.get(name, name)
            for problem in problems:
                self.add_error(target if target in self.fields else None, problem)
        if not error.fields:
            self.add_error(None, error.message)


class FieldForm(forms.Form):
    """One field of the form being designed (see forms/fields.py for what each part means)."""

    type = forms.ChoiceField(label="Type", choices=list(FIELD_TYPES.items()), initial=TEXT)
    label = forms.CharField(label="Label", required=False)
    key = forms.CharField(
        label="Key",
        required=False,
        help_text="Optional: made from the label. Names the answer in exports and the API.",
    )
    help_text = forms.CharField(
        label="Help text", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    required = forms.BooleanField(
        label="Required", required=False, help_text="A required checkbox is a consent."
    )
    choices = forms.CharField(
        label="Choices",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Single and multiple choice only: one per line.",
    )
    maps_to = forms.CharField(
        label="Prefill from the contact",
        required=False,
        widget=forms.TextInput(attrs={"list": "maps-to-options", "autocomplete": "off"}),
        help_text="Optional: name, email, phone, or custom.&lt;key&gt; for a custom field.",
    )

    @classmethod
    def for_field(cls, field: dict[str, Any], **kwargs) -> FieldForm:
        initial = {**field, "choices": "\n".join(field.get("choices") or [])}
        return cls(initial=initial, **kwargs)

    def definition(self) -> dict[str, Any]:
        data = self.cleaned_data
        choices = [line.strip() for line in data["choices"].splitlines() if line.strip()]
        return {
            "key": data["key"].strip(),
            "type": data["type"],
            "label": data["label"],
            "help_text": data["help_text"],
            "required": data["required"],
            "choices": choices,
            "maps_to": data["maps_to"].strip(),
        }

    def add_service_errors(self, error: DomainError, index: int) -> None:
        """The service's messages about field number `index` on this form's inputs; any other
        (the whole list's, another field's) on the form itself."""
        prefix = f"fields.{index}"
        for name, problems in error.fields.items():
            prop = name.removeprefix(f"{prefix}.") if name.startswith(f"{prefix}.") else None
            for problem in problems:
                if prop in self.fields:
                    self.add_error(prop, problem)
                elif name in (prefix, "fields"):
                    self.add_error(None, problem)
                else:
                    self.add_error(None, f"{name}: {problem}")
        if not error.fields:
            self.add_error(None, error.message)


# --- Helpers ----------------------------------------------------------------------------------


def _template_or_404(request, pk: int) -> FormTemplate:
    try:
        return selectors.template_get(workspace=request.workspace, pk=pk)
    except NotFound:
        raise Http404("Form not found.") from None


def _booking_types(workspace) -> list[BookingType]:
    return list(BookingType.objects.for_workspace(workspace).only("id", "name").order_by("name"))


def _index_of(template: FormTemplate, key: str) -> int:
    for index, field in enumerate(template.fields):
        if field.get("key") == key:
            return index
    raise Http404("This field is no longer in the form.")


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

    def change_fields(
        self,
        template: FormTemplate,
        new_fields: list[dict[str, Any]],
        *,
        done: str,
        key: str = "",
        form: FieldForm | None = None,
        index: int | None = None,
        form_kwargs: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """Save the form's fields through the service; the refusal on `form` (about field
        number `index`), or in a notice when no form was posted."""
        try:
            services.template_update(template=template, actor=self.request.user, fields=new_fields)
        except DomainError as exc:
            template = _template_or_404(self.request, template.pk)  # what is stored
            kwargs = dict(form_kwargs or {})
            if form is not None:
                form.add_service_errors(exc, index if index is not None else -1)
            else:
                kwargs["notice"] = exc.message
            return self.page(template, status=exc.status_code, **kwargs)
        if self.request.htmx:
            return self.page(template, notice=done)
        if not key and index is not None and index < len(template.fields):
            key = template.fields[index]["key"]  # the key the service made from the label
        messages.success(self.request, done)
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
        return self.change_fields(
            template,
            [*template.fields, definition],
            done=f"“{definition['label']}” is added.",
            key=definition["key"],
            form=form,
            index=len(template.fields),
            form_kwargs={"add_form": form},
        )


class FieldEditView(BuilderMixin, View):
    def get(self, request, pk: int, key: str):
        template = _template_or_404(request, pk)
        return redirect(f"{reverse('form-template-edit', args=[template.pk])}?edit={key}")

    def post(self, request, pk: int, key: str):
        template = _template_or_404(request, pk)
        index = _index_of(template, key)
        form = FieldForm(request.POST, prefix="edit")
        form_kwargs = {"edit_key": key, "edit_form": form}
        if not form.is_valid():
            return self.page(template, status=400, **form_kwargs)
        definition = form.definition()
        fields = list(template.fields)
        fields[index] = definition
        return self.change_fields(
            template,
            fields,
            done=f"“{definition['label']}” is saved.",
            key=definition["key"],
            form=form,
            index=index,
            form_kwargs=form_kwargs,
        )


class FieldRemoveView(BuilderMixin, View):
    def post(self, request, pk: int, key: str):
        template = _template_or_404(request, pk)
        index = _index_of(template, key)
        removed = template.fields[index]
        fields = [f for i, f in enumerate(template.fields) if i != index]
        return self.change_fields(template, fields, done=f"“{removed['label']}” is removed.")


class FieldMoveView(BuilderMixin, View):
    """Move a field one place up or down (direction=up|down); at either end, nothing moves."""

    def post(self, request, pk: int, key: str):
        template = _template_or_404(request, pk)
        index = _index_of(template, key)
        step = {"up": -1, "down": 1}.get(request.POST.get("direction", ""))
        other = index + step if step else -1
        label = template.fields[index]["label"]
        if not 0 <= other < len(template.fields):
            if request.htmx:
                return self.page(template)
            return redirect(_builder_url(template, key))
        fields = list(template.fields)
        fields[index], fields[other] = fields[other], fields[index]
        where = "up" if step < 0 else "down"
        return self.change_fields(template, fields, done=f"“{label}” is moved {where}.", key=key)


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
