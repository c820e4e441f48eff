"""The inbox pages: the conversation list, a thread with its reply box, and the small actions
on a thread (retry, assign, close, pause automation). htmx requests get only the partial they
swap; every action also works as a plain form post."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views import View
from django_htmx.http import reswap, retarget

from careops.errors import Conflict, DomainError
from careops.forms import add_domain_errors
from careops.tenancy import WorkspacePageMixin
from messaging import selectors, services
from messaging.models import Channel, Conversation

PAGE_SIZE = 50  # conversations in the list
# Past the last page the list is empty; a page past this one would overflow the query's OFFSET
# (a bigint) and fail at the database.
MAX_PAGE = 1_000_000
THREAD_SIZE = 100  # latest messages a thread page shows

# The list's tabs: name -> (label, selector filters).
FILTERS = {
    "all": ("All", {}),
    "unread": ("Unread", {"unread": True}),
    "mine": ("Assigned to me", {"assigned": "me"}),
    "closed": ("Closed", {"status": Conversation.Status.CLOSED}),
}


class ReplyForm(forms.Form):
    channel = forms.ChoiceField(label="Send by", widget=forms.RadioSelect, required=False)
    template_id = forms.TypedChoiceField(
        label="Canned reply", coerce=int, empty_value=None, required=False
    )
    subject = forms.CharField(label="Subject (email)", max_length=255, required=False)
    # Blank is the service's to refuse ("Write a message."), unless a canned reply fills it.
    body = forms.CharField(
        label="Reply",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Write a reply"}),
    )

    def __init__(self, *args, conversation: Conversation, templates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.reachable = services.reachable_channels(conversation.contact, conversation)
        self.fields["channel"].choices = [(c, Channel(c).label) for c in self.reachable]
        if (
            self.reachable
            and not self.is_bound
            and self.initial.get("channel") not in self.reachable
        ):
            self.initial["channel"] = services.choose_channel(
                conversation.contact, conversation, None
            )
        self.fields["template_id"].choices = [("", "Choose a canned reply")] + [
            (t.pk, t.name) for t in templates
        ]


class InboxPageMixin(WorkspacePageMixin):
    """Inbox pages render in the workspace's time zone."""

    def render(self, template: str, context: dict, status: int = 200) -> HttpResponse:
        with timezone.override(ZoneInfo(self.request.workspace.timezone)):
            return render(self.request, template, context, status=status)

    def conversation(self, pk: int) -> Conversation:
        return selectors.conversation_get(workspace=self.request.workspace, pk=pk)

    def list_context(self, selected: Conversation | None = None) -> dict:
        """The conversation list: a tab, a page of conversations (one query)."""
        tab = self.request.GET.get("filter", "all")
        if tab not in FILTERS:
            tab = "all"
        try:
            page = min(max(int(self.request.GET.get("page", 1)), 1), MAX_PAGE)
        except ValueError:
            page = 1
        start = (page - 1) * PAGE_SIZE
        conversations = list(
            selectors.conversations_list(
                workspace=self.request.workspace, user=self.request.user, **FILTERS[tab][1]
            )[start : start + PAGE_SIZE + 1]
        )
        return {
            "conversations": conversations[:PAGE_SIZE],
            "has_more": len(conversations) > PAGE_SIZE,
            "page": page,
            "tab": tab,
            "tabs": [(name, label) for name, (label, _) in FILTERS.items()],
            "selected": selected,
            "today": timezone.localdate(timezone=ZoneInfo(self.request.workspace.timezone)),
        }

    def reply_form(self, conversation: Conversation, data=None, initial=None) -> ReplyForm:
        templates = selectors.templates_for_workspace(workspace=self.request.workspace)
        return ReplyForm(data, conversation=conversation, templates=templates, initial=initial)

    def thread_context(self, conversation: Conversation, form: ReplyForm | None = None) -> dict:
        thread = selectors.conversation_latest_messages(
            conversation=conversation, limit=THREAD_SIZE
        )
        return {
            "conversation": conversation,
            "contact": conversation.contact,
            "thread_messages": thread,
            "last_message_id": thread[-1].pk if thread else 0,
            "reply_form": form or self.reply_form(conversation),
        }

    def controls_context(self, conversation: Conversation, error: str = "") -> dict:
        return {
            "conversation": conversation,
            "members": selectors.workspace_members(workspace=self.request.workspace),
            "statuses": Conversation.Status.choices,
            "controls_error": error,
        }

    def conversation_page(
        self, conversation: Conversation, form: ReplyForm | None = None, status: int = 200
    ) -> HttpResponse:
        context = {
            **self.list_context(selected=conversation),
            **self.thread_context(conversation, form),
            **self.controls_context(conversation),
        }
        return self.render("messaging/conversation.html", context, status=status)

    def back_to(self, conversation: Conversation):
        return redirect("inbox-conversation", pk=conversation.pk)


class InboxView(InboxPageMixin, View):
    def get(self, request):
        context = self.list_context()
        # The owners' notes ("For you": stock running out), one query; staff never see them.
        if request.membership.is_owner:
            context["notices"] = list(selectors.notices_open(workspace=request.workspace))
        return self.render("messaging/inbox.html", context)


class NoticeDoneView(InboxPageMixin, View):
    """An owner's Done on a notice: it leaves the inbox (htmx removes it in place)."""

    owner_only = True

    def post(self, request, pk: int):
        notice = selectors.notice_get(workspace=request.workspace, pk=pk)
        services.notice_close(notice=notice, actor=request.user)
        if request.htmx:
            return HttpResponse("")
        messages.success(request, "Marked as done.")
        return redirect("inbox")


class ConversationListPartialView(InboxPageMixin, View):
    """The list alone, which the page re-fetches every few seconds to refresh unread badges."""

    def get(self, request):
        selected = None
        selected_id = request.GET.get("selected", "")
        if selected_id.isdigit():
            selected = Conversation(pk=int(selected_id))
        return self.render("messaging/_conversation_list.html", self.list_context(selected))


class ConversationView(InboxPageMixin, View):
    """A thread beside the list (on a phone, alone). Opening it marks it read."""

    def get(self, request, pk: int):
        conversation = self.conversation(pk)
        if conversation.unread_count:
            services.conversation_mark_read(conversation=conversation)
        return self.conversation_page(conversation)


class NewMessagesView(InboxPageMixin, View):
    """Messages newer than ?after=<id>, appended to the open thread by its polling; 204 when
    there are none, so the page changes nothing."""

    def get(self, request, pk: int):
        conversation = self.conversation(pk)
        after = request.GET.get("after", "")
        if not after.isdigit():
            return HttpResponse("Give ?after=<message id>.", status=400)
        new = list(selectors.conversation_messages(conversation=conversation, after=int(after)))
        if not new:
            return HttpResponse(status=204)
        if conversation.unread_count and any(m.direction == "inbound" for m in new):
            services.conversation_mark_read(conversation=conversation)  # it is open on screen
        context = {
            "conversation": conversation,
            "contact": conversation.contact,
            "thread_messages": new,
            "last_message_id": new[-1].pk,
        }
        return self.render("messaging/_new_messages.html", context)


class ReplyView(InboxPageMixin, View):
    def post(self, request, pk: int):
        conversation = self.conversation(pk)
        form = self.reply_form(conversation, request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.conversation_reply(
                    conversation=conversation,
                    actor=request.user,
                    body=data["body"],
                    channel=data["channel"] or None,
                    subject=data["subject"],
                    template_id=data["template_id"],
                )
            except DomainError as exc:
                add_domain_errors(form, exc)
            else:
                if not request.htmx:
                    messages.success(request, "Reply queued.")
                    return self.back_to(conversation)
                context = {
                    **self.thread_context(conversation),
                    **self.controls_context(conversation),
                    "controls_oob": True,
                }
                return self.render("messaging/_reply_sent.html", context)
        if request.htmx:
            context = {"conversation": conversation, "reply_form": form}
            response = self.render("messaging/_reply_form.html", context, status=400)
            return reswap(retarget(response, "#reply-form"), "outerHTML")
        return self.conversation_page(conversation, form, status=400)


class CannedReplyView(InboxPageMixin, View):
    """The reply box with a canned reply rendered into it, for staff to read and edit."""

    def get(self, request, pk: int):
        conversation = self.conversation(pk)
        initial = {key: request.GET.get(key, "") for key in ("channel", "subject", "body")}
        template_id = request.GET.get("template_id", "")
        error, status = "", 200
        if template_id:
            try:
                initial["subject"], initial["body"] = services.conversation_template_render(
                    conversation=conversation,
                    template_id=int(template_id) if template_id.isdigit() else 0,
                    actor=request.user,
                )
            except DomainError as exc:
                error = " ".join(p for problems in exc.fields.values() for p in problems)
                error, status = error or exc.message, 400
        context = {
            "conversation": conversation,
            "reply_form": self.reply_form(conversation, initial=initial),
            "canned_error": error,
        }
        return self.render("messaging/_reply_form.html", context, status=status)


class RetryView(InboxPageMixin, View):
    """The Retry button of a failed message: queue it again and show its new state."""

    def post(self, request, pk: int, message_id: int):
        conversation = self.conversation(pk)
        message = selectors.message_get(conversation=conversation, pk=message_id)
        status = 200
        try:
            message = services.message_retry(message=message, actor=request.user)
        except Conflict as exc:
            status = 409
            if not request.htmx:
                messages.error(request, exc.message)
        else:
            if not request.htmx:
                messages.success(request, "Sending again.")
        if not request.htmx:
            return self.back_to(conversation)
        context = {
            "conversation": conversation,
            "contact": conversation.contact,
            "message": message,
        }
        return self.render("messaging/_message.html", context, status=status)


class AutomationView(InboxPageMixin, View):
    def post(self, request, pk: int):
        conversation = self.conversation(pk)
        paused = request.POST.get("paused") in ("1", "true", "on")
        services.conversation_set_automation(
            conversation=conversation, paused=paused, actor=request.user
        )
        if not request.htmx:
            messages.success(request, "Automation paused." if paused else "Automation resumed.")
            return self.back_to(conversation)
        return self.render("messaging/_controls.html", self.controls_context(conversation))


class ConversationUpdateView(InboxPageMixin, View):
    """Assign the conversation, close or reopen it."""

    def post(self, request, pk: int):
        conversation = self.conversation(pk)
        changes = {}
        if "status" in request.POST:
            changes["status"] = request.POST["status"]
        if "assigned_to" in request.POST:
            assignee = request.POST["assigned_to"].strip()
            # Not a number: no one's id (0), which the service refuses with its field message.
            changes["assigned_to"] = (
                (int(assignee) if assignee.isdigit() else 0) if assignee else None
            )
        error, status = "", 200
        try:
            services.conversation_update(conversation=conversation, actor=request.user, **changes)
        except DomainError as exc:
            error = " ".join(p for problems in exc.fields.values() for p in problems) or str(exc)
            status = 400
            conversation = self.conversation(pk)  # show what is stored
        if not request.htmx:
            if error:
                messages.error(request, error)
            return self.back_to(conversation)
        return self.render(
            "messaging/_controls.html", self.controls_context(conversation, error), status=status
        )
