"""The whole product, end to end, as its people use it, on phones, against a live server on
PostgreSQL: an owner signs up, sets up through the onboarding steps and goes live; a visitor
books; the owner sees the booking and its confirmation; a staff member joins and replies; the
visitor fills in the intake form from its link; the owner sees it completed. Then the failures
a person meets: a slot taken meanwhile, an expired link, a wrong password."""

from __future__ import annotations

import re
from datetime import time, timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from bookings.models import Booking
from bookings.tests.factories import BookingTypeFactory, WorkingHoursFactory
from contacts.tests.factories import ContactFactory
from forms.models import FormSubmission
from forms.services import submission_link
from forms.tests.factories import FormSubmissionFactory
from messaging.models import Message
from tests.browser.conftest import ARTIFACTS
from workspaces.models import Workspace
from workspaces.tests.factories import make_live

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

OWNER = ("Mary Seacole", "mary@seacole.example", "a-long-enough-passphrase")
STAFF = ("Florence Nightingale", "florence@seacole.example", "another-long-passphrase")
LINK = re.compile(r"https?://\S+/f/[^\s/]+/")


@pytest.fixture
def phone(browser, request):
    """A new phone for each person (its own cookies), with a screenshot of each on failure."""
    contexts = []

    def new_phone():
        context = browser.new_context(viewport={"width": 390, "height": 844})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield new_phone
    report = getattr(request.node, "report_call", None)
    for n, context in enumerate(contexts):
        if report is not None and report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            for page in context.pages:
                page.screenshot(
                    path=str(ARTIFACTS / f"{request.node.name}-{n}.png"), full_page=True
                )
        context.close()


def shot(page, name: str) -> None:
    """A picture of each main page along the way, for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"journey-{name}.png"), full_page=True)


def next_step(page, title: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)


def test_sign_up_set_up_go_live_book_confirm_reply_and_fill_in_the_intake_form(
    phone, live_server, stand_in, settings
):
    settings.SITE_URL = live_server.url
    settings.MESSAGING_ALLOW_CONSOLE = True  # plain-http provider URLs: the local stand-in
    url = live_server.url
    owner = phone()

    # --- The owner signs up and walks the onboarding steps ---------------------------------------
    owner.goto(f"{url}/signup/")
    owner.get_by_label("Your name").fill(OWNER[0])
    owner.get_by_label("Email").fill(OWNER[1])
    owner.get_by_label("Password").fill(OWNER[2])
    owner.get_by_label("Business name").fill("Seacole Care")
    owner.get_by_label("Time zone").select_option("Europe/London")
    owner.get_by_role("button", name="Create account").click()
    expect(owner.get_by_role("heading", level=1)).to_have_text("Seacole Care")
    expect(owner.get_by_test_id("onboarding-panel")).to_be_visible()
    shot(owner, "dashboard-new")
    owner.get_by_role("link", name="Continue setting up").click()

    next_step(owner, "Business details")
    owner.get_by_label("Contact email").fill("hello@seacole.example")
    owner.get_by_label("Address").fill("1 Harbour Road, Bristol")
    owner.get_by_role("button", name="Save and continue").click()

    next_step(owner, "Email or SMS channel")
    shot(owner, "onboarding-channel")
    owner.get_by_role("link", name="Add a provider and send a test").click()
    owner.get_by_role("link", name="Add a provider").click()
    owner.get_by_label("Provider").select_option("resend")
    form = owner.get_by_test_id("integration-form")
    form.get_by_label("API key").fill("re_journey_key_1234")
    form.get_by_label("Send from").fill("hello@seacole.example")
    form.get_by_text("Advanced").click()
    form.get_by_label("API URL").fill(stand_in.url + "/resend/")
    form.get_by_role("button", name="Add Resend").click()
    expect(owner.get_by_role("status").filter(has_text="Resend is added.")).to_be_visible()

    owner.goto(f"{url}/onboarding/contact_form/")
    next_step(owner, "Contact form")
    expect(owner.get_by_test_id("contact-form-link")).to_have_value(
        f"{url}/c/{Workspace.objects.get().slug}/"
    )

    # Left and resumed: the wizard opens at the first step not done.
    owner.goto(f"{url}/onboarding/")
    next_step(owner, "Services and opening hours")
    owner.get_by_role("link", name="Add or edit services").click()
    owner.get_by_role("link", name=re.compile("Add a service|New service")).click()
    owner.get_by_label("Name").fill("Massage")
    owner.get_by_label("Duration (minutes)").fill("60")
    owner.get_by_label("Minimum notice (minutes)").fill("0")
    owner.get_by_role("button", name=re.compile("Save|Add")).click()
    expect(owner.get_by_text("Massage").first).to_be_visible()
    owner.goto(f"{url}/settings/availability/")
    for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"):
        week = owner.locator("#week")
        week.get_by_label("Day", exact=True).select_option(label=day)
        week.get_by_label("From").fill("00:00")
        week.get_by_label("To").fill("23:59")
        week.get_by_role("button", name="Add", exact=True).click()
        expect(owner.get_by_test_id("working-hours")).to_contain_text("00:00\N{EN DASH}23:59")

    owner.goto(f"{url}/onboarding/forms/")
    next_step(owner, "Intake forms")
    owner.get_by_role("link", name="Create or edit forms").click()
    owner.get_by_role("link", name="New form").click()
    owner.get_by_label("Name").fill("Intake")
    owner.get_by_label("Massage").check()
    owner.get_by_role("button", name="Create form").click()
    field = owner.get_by_test_id("field-add")
    field.get_by_label("Type").select_option("text")
    field.get_by_label("Label", exact=True).fill("Allergies")
    field.get_by_role("button", name="Add field").click()
    expect(owner.get_by_test_id("builder-notice")).to_have_text("“Allergies” is added.")

    owner.goto(f"{url}/onboarding/team/")
    next_step(owner, "Staff invitations")
    owner.get_by_label("Email").fill(STAFF[1])
    owner.get_by_role("button", name="Send invitation").click()
    expect(owner.get_by_test_id("pending-invitations")).to_contain_text(STAFF[1])

    owner.goto(f"{url}/onboarding/review/")
    shot(owner, "onboarding-review")
    owner.get_by_role("button", name="Activate").click()
    expect(owner.get_by_text("is live")).to_be_visible()
    assert Workspace.objects.get().is_active
    slug = Workspace.objects.get().slug

    # --- A visitor books on the public page --------------------------------------------------
    visitor = phone()
    visitor.goto(f"{url}/b/{slug}/")
    visitor.get_by_role("link", name=re.compile("Massage")).click()
    visitor.locator("button.slot").first.click()
    visitor.get_by_label("Your name").fill("Ada Lovelace")
    visitor.get_by_label("Email").fill("ada@example.org")
    visitor.get_by_role("button", name="Book").click()
    expect(visitor.get_by_role("heading", name="You're booked")).to_be_visible()
    shot(visitor, "booked")
    booking = Booking.objects.get()

    # --- The owner sees it on the dashboard and its confirmation in the inbox ----------------
    owner.goto(f"{url}/")
    panels = owner.get_by_test_id("dashboard-panels")
    expect(panels.get_by_role("link", name=re.compile("Ada Lovelace")).first).to_be_visible()
    shot(owner, "dashboard-live")
    owner.goto(f"{url}/inbox/")
    owner.get_by_test_id("conversation-list").get_by_role(
        "link", name=re.compile("Ada Lovelace")
    ).click()
    thread = owner.get_by_test_id("thread")
    expect(thread).to_contain_text("Massage")  # the confirmation, sent by automation
    confirmation = Message.objects.filter(conversation__contact=booking.contact).first()
    assert confirmation is not None and confirmation.status == Message.Status.SENT
    shot(owner, "inbox-confirmation")

    # --- The staff member joins from the invitation and replies ------------------------------
    invitation = next(m for m in mail.outbox if STAFF[1] in m.to)
    join = re.search(r"https?://\S+/invitations/\S+/", invitation.body).group(0)
    staff = phone()
    staff.goto(join)
    staff.get_by_label("Your name").fill(STAFF[0])
    staff.get_by_label("Password").fill(STAFF[2])
    staff.get_by_role("button", name=re.compile("Join|Accept|Create")).click()
    expect(staff.get_by_role("heading", level=1)).to_have_text("Seacole Care")
    staff.goto(f"{url}/inbox/")
    staff.get_by_test_id("conversation-list").get_by_role(
        "link", name=re.compile("Ada Lovelace")
    ).click()
    staff.get_by_label("Reply", exact=True).fill("See you soon, Ada!")
    staff.get_by_role("button", name="Send").click()
    reply = staff.get_by_test_id("thread").get_by_test_id("message").filter(has_text="See you soon")
    expect(reply).to_contain_text("Sent")

    # --- The visitor fills in the intake form from the link they were sent -------------------
    sent = [r.json.get("text", "") for r in stand_in.requests_to("/resend/emails")]
    form_link = next(LINK.search(text).group(0) for text in sent if LINK.search(text))
    visitor.goto(form_link)
    expect(visitor.get_by_role("heading", level=1)).to_have_text("Intake")
    visitor.get_by_label("Allergies").fill("None")
    visitor.get_by_role("button", name="Send").click()
    expect(visitor.get_by_role("heading", level=1)).to_have_text("Thank you")

    # --- The owner sees it completed ---------------------------------------------------------
    owner.goto(f"{url}/bookings/{booking.pk}/")
    expect(owner.get_by_text(re.compile("Intake")).first).to_be_visible()
    expect(owner.locator("body")).to_contain_text(re.compile("Completed", re.IGNORECASE))
    shot(owner, "booking-form-completed")
    assert FormSubmission.objects.get(booking=booking).status == FormSubmission.Status.COMPLETED


def test_a_slot_taken_meanwhile_is_said_and_the_visitor_picks_another(
    page, live_server, workspace_a
):
    make_live(workspace_a)
    for weekday in range(7):
        WorkingHoursFactory(
            workspace=workspace_a, weekday=weekday, start_time=time(0), end_time=time(23, 59)
        )
    massage = BookingTypeFactory(
        workspace=workspace_a, name="Massage", slug="massage", min_notice_minutes=0
    )

    page.goto(f"{live_server.url}/b/{workspace_a.slug}/massage/")
    page.locator("button.slot").first.click()
    page.get_by_label("Your name").fill("Ada Lovelace")
    page.get_by_label("Email").fill("ada@example.org")
    start = page.locator("#id_start").input_value()
    # Someone else books that time while Ada types.
    from bookings.public_forms import parse_start
    from bookings.services import booking_create

    booking_create(
        workspace=workspace_a,
        booking_type=massage,
        contact=ContactFactory(workspace=workspace_a),
        start=parse_start(start),
        actor=None,
        enforce_rules=False,
    )
    page.get_by_role("button", name="Book").click()

    expect(page.get_by_text("That time was just taken. Please choose another.")).to_be_visible()
    expect(page.locator("button.slot").first).to_be_visible()
    assert Booking.objects.count() == 1


def test_an_expired_form_link_says_so(page, live_server, workspace_a, settings):
    settings.SITE_URL = live_server.url
    submission = FormSubmissionFactory(workspace=workspace_a)
    link = submission_link(submission)

    with time_machine.travel(timezone.now() + timedelta(days=31)):
        page.goto(link)
        expect(page.get_by_role("heading", level=1)).to_have_text("This link has expired")


def test_a_wrong_password_is_said_and_nothing_else_is_revealed(page, live_server, owner):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(owner.email)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_text("Email or password is incorrect.")).to_be_visible()
    expect(page.get_by_test_id("logout")).to_have_count(0)
