"""The owners' setup wizard at /onboarding/: a page per step, saved as it goes, then a review
that activates the workspace. Owners only: staff get 403, others see their own workspace."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from bookings.tests.factories import BookingTypeFactory, WorkingHoursFactory
from careops.tenancy import SESSION_KEY
from forms.tests.factories import FormTemplateFactory
from messaging.tests.factories import IntegrationFactory
from workspaces.models import Invitation, Workspace
from workspaces.tests.factories import InvitationFactory, MembershipFactory

pytestmark = pytest.mark.django_db

STEPS = [
    "business_details",
    "communication",
    "contact_form",
    "booking",
    "forms",
    "inventory",
    "team",
    "review",
]


def step_url(key: str) -> str:
    return reverse("onboarding-step", args=[key])


def field_errors(response) -> dict[str, str]:
    html = response.content.decode()
    return dict(re.findall(r'<p class="error" id="id_(\w+)-error">([^<]*)</p>', html))


def details(**changes) -> dict[str, str]:
    data = {
        "name": "Alpha Clinic & Spa",
        "timezone": "Europe/Paris",
        "contact_email": "hello@alpha.example",
        "contact_phone": "+33 1 23 45 67 89",
        "address": "1 rue de la Paix, Paris",
    }
    return {**data, **changes}


def complete_required_steps(workspace: Workspace) -> None:
    """Business details, a channel, and a service with opening hours: the required steps."""
    Workspace.objects.filter(pk=workspace.pk).update(
        contact_email="hello@alpha.example", address="1 High Street"
    )
    IntegrationFactory(workspace=workspace)
    BookingTypeFactory(workspace=workspace, name="Massage")
    WorkingHoursFactory(workspace=workspace)


# --- Walking the steps --------------------------------------------------------------------


def test_the_wizard_shows_every_step_in_order_with_the_current_one_marked(owner_client):
    response = owner_client.get(step_url("communication"))

    assert response.status_code == 200
    html = response.content.decode()
    stepper = html[html.index('<ol class="stepper">') : html.index("</ol>")]
    assert re.findall(r'href="/onboarding/([a-z_]+)/"', stepper) == STEPS
    assert stepper.count('aria-current="step"') == 1
    assert f'href="{step_url("communication")}" aria-current="step"' in stepper
    # The contact form is there from the start: ticked.
    assert re.search(r'<li class="done">\s*<a href="/onboarding/contact_form/"', stepper)
    assert f'href="{step_url("business_details")}" rel="prev"' in html
    assert f'href="{step_url("contact_form")}" rel="next"' in html
    assert f'href="{reverse("settings-integrations")}"' in html


def test_the_owner_saves_business_details_and_goes_on_to_the_next_step(owner_client, workspace_a):
    page = owner_client.get(step_url("business_details"))
    assert page.status_code == 200
    assert b'<option value="Europe/London" selected>' in page.content  # the current zone

    response = owner_client.post(step_url("business_details"), details())

    assert response.status_code == 302
    assert response["Location"] == step_url("communication")
    workspace_a.refresh_from_db()
    assert (workspace_a.name, workspace_a.timezone) == ("Alpha Clinic & Spa", "Europe/Paris")
    assert workspace_a.contact_email == "hello@alpha.example"
    assert workspace_a.contact_phone == "+33 1 23 45 67 89"
    assert workspace_a.address == "1 rue de la Paix, Paris"


def test_an_unknown_time_zone_is_shown_on_its_field_and_nothing_is_saved(owner_client, workspace_a):
    response = owner_client.post(
        step_url("business_details"), details(timezone="Mars/Olympus", contact_phone="call me")
    )

    assert response.status_code == 400
    errors = field_errors(response)
    assert "Mars/Olympus is not one of the available choices" in errors["timezone"]
    assert "Enter a phone number" in errors["contact_phone"]
    assert "name" not in errors
    workspace_a.refresh_from_db()
    assert (workspace_a.name, workspace_a.timezone) == ("Alpha Clinic", "Europe/London")


def test_the_communication_step_shows_each_provider_and_whether_a_test_went_through(
    owner_client, workspace_a
):
    IntegrationFactory(
        workspace=workspace_a, from_address="desk@alpha.example", last_success_at=timezone.now()
    )
    IntegrationFactory(
        workspace=workspace_a, channel="sms", provider="twilio", from_address="+447700900123"
    )

    html = owner_client.get(step_url("communication")).content.decode()

    assert "Email: Console (development) (desk@alpha.example): sent successfully" in html
    assert "SMS: Twilio (+447700900123): not tested yet" in html


def test_the_contact_form_step_shows_the_link_a_preview_and_the_embed_snippet(
    owner_client, settings
):
    settings.SITE_URL = "https://careops.example"

    html = owner_client.get(step_url("contact_form")).content.decode()

    assert 'value="https://careops.example/c/alpha-clinic/"' in html
    assert '<iframe class="contact-form-preview" src="/c/alpha-clinic/"' in html
    assert '&lt;iframe src="https://careops.example/c/alpha-clinic/" title="Contact Alpha' in html
    # The form it previews may be framed (this page itself may not).
    assert owner_client.get("/c/alpha-clinic/").get("X-Frame-Options") is None


def test_the_booking_and_forms_steps_list_services_hours_and_which_services_send_a_form(
    owner_client, workspace_a
):
    massage = BookingTypeFactory(workspace=workspace_a, name="Massage", duration_minutes=45)
    WorkingHoursFactory(workspace=workspace_a, weekday=1)
    intake = FormTemplateFactory(workspace=workspace_a, name="Health questionnaire")
    intake.booking_types.add(massage)

    booking = owner_client.get(step_url("booking")).content.decode()
    forms = owner_client.get(step_url("forms")).content.decode()

    assert "Massage (45 min)" in booking
    assert "Opening hours set: Tue." in booking
    assert f'href="{reverse("settings-availability")}"' in booking
    assert "Health questionnaire: sent for Massage." in forms
    assert f'href="{reverse("form-templates")}"' in forms


def test_the_owner_invites_staff_inline_and_sees_the_pending_invitation(
    owner_client, workspace_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            step_url("team"), {"email": "New.Person@Example.com", "role": "staff"}
        )

    assert response.status_code == 302
    assert response["Location"] == step_url("team")
    invitation = Invitation.objects.get(workspace=workspace_a)
    assert (invitation.email, invitation.role) == ("new.person@example.com", "staff")
    assert mail.outbox[0].to == ["new.person@example.com"]
    page = owner_client.get(step_url("team")).content.decode()
    assert "Invitation sent to new.person@example.com." in page
    pending = page[page.index('data-testid="pending-invitations"') :]
    assert "new.person@example.com" in pending


def test_inviting_a_member_again_is_refused_on_the_email_field(owner_client, staff):
    response = owner_client.post(step_url("team"), {"email": staff.email, "role": "staff"})

    assert response.status_code == 400
    assert field_errors(response)["email"] == "This person is already a member."
    assert not Invitation.objects.exists()


# --- Review and activation ------------------------------------------------------------------


def test_the_review_refuses_to_activate_and_lists_the_missing_required_steps(
    owner_client, workspace_a
):
    IntegrationFactory(workspace=workspace_a)

    response = owner_client.post(step_url("review"))

    assert response.status_code == 409
    html = response.content.decode()
    error = html[
        html.index('data-testid="activation-error"') : html.index(
            "</div>", html.index('data-testid="activation-error"')
        )
    ]
    assert f'<a href="{step_url("business_details")}">Business details and time zone</a>' in error
    assert f'<a href="{step_url("booking")}">Services and opening hours</a>' in error
    assert "Set your opening hours." in error
    assert "Email or SMS channel" not in error  # done
    assert "Intake forms" not in error  # optional
    workspace_a.refresh_from_db()
    assert workspace_a.status == "draft"


def test_the_review_activates_a_complete_workspace_and_goes_to_the_dashboard(
    owner_client, workspace_a
):
    complete_required_steps(workspace_a)
    review = owner_client.get(step_url("review")).content.decode()
    assert review.count('<span class="review-missing">Missing</span>') == 0
    assert ">Activate</button>" in review

    response = owner_client.post(step_url("review"))

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    flashed = [str(m) for m in get_messages(response.wsgi_request)]
    assert flashed == ["Alpha Clinic is live: clients can book now."]
    workspace_a.refresh_from_db()
    assert workspace_a.status == "active"
    assert workspace_a.activated_at is not None


def test_an_active_workspace_still_has_its_wizard_and_the_review_says_live(
    owner_client, workspace_a
):
    complete_required_steps(workspace_a)
    Workspace.objects.filter(pk=workspace_a.pk).update(status="active", activated_at=timezone.now())

    review = owner_client.get(step_url("review"))
    details_page = owner_client.get(step_url("business_details"))

    assert review.status_code == details_page.status_code == 200
    assert b'data-testid="workspace-live"><strong>Live</strong>' in review.content
    assert b">Activate</button>" not in review.content


# --- Resuming -------------------------------------------------------------------------------


def test_the_wizard_resumes_at_the_first_step_not_done(owner_client, workspace_a):
    assert owner_client.get(reverse("onboarding"))["Location"] == step_url("business_details")

    Workspace.objects.filter(pk=workspace_a.pk).update(
        contact_phone="+44 20 7946 0958", address="1 High Street"
    )
    assert owner_client.get(reverse("onboarding"))["Location"] == step_url("communication")

    IntegrationFactory(workspace=workspace_a)
    assert owner_client.get(reverse("onboarding"))["Location"] == step_url("booking")


def test_the_wizard_resumes_at_the_review_once_the_required_steps_are_done(
    owner_client, workspace_a
):
    complete_required_steps(workspace_a)  # forms, inventory and team are still to do

    assert owner_client.get(reverse("onboarding"))["Location"] == step_url("review")


def test_an_unknown_step_is_not_found_and_a_step_without_a_form_takes_no_post(owner_client):
    assert owner_client.get(step_url("payments")).status_code == 404
    assert owner_client.post(step_url("payments")).status_code == 404
    assert owner_client.post(step_url("booking")).status_code == 405


# --- Who may use it -------------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, *STEPS])
def test_staff_are_refused(staff_client, key):
    url = reverse("onboarding") if key is None else step_url(key)

    assert staff_client.get(url).status_code == 403


def test_staff_cannot_activate_or_invite(staff_client, workspace_a):
    complete_required_steps(workspace_a)

    assert staff_client.post(step_url("review")).status_code == 403
    assert staff_client.post(step_url("team"), {"email": "x@example.com"}).status_code == 403
    workspace_a.refresh_from_db()
    assert workspace_a.status == "draft"
    assert not Invitation.objects.exists()


def test_anonymous_visitors_are_asked_to_sign_in(client):
    response = client.get(step_url("business_details"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_an_outsider_only_ever_sets_up_their_own_workspace(
    outsider_client, workspace_a, workspace_b
):
    # Even with the other workspace forced into the session, the pages act on their own.
    session = outsider_client.session
    session[SESSION_KEY] = workspace_a.pk
    session.save()

    page = outsider_client.get(step_url("business_details")).content.decode()
    outsider_client.post(step_url("business_details"), details(name="Taken over"))
    outsider_client.post(step_url("review"))

    assert "Setting up Bravo Salon" in page
    assert "Alpha Clinic" not in page
    workspace_a.refresh_from_db()
    workspace_b.refresh_from_db()
    assert (workspace_a.name, workspace_a.status) == ("Alpha Clinic", "draft")
    assert workspace_b.name == "Taken over"


# --- Query budgets --------------------------------------------------------------------------


def fill_workspace(workspace, n: int) -> None:
    """n of everything the steps list: providers, services, hours, forms, invitations."""
    for i in range(n):
        IntegrationFactory(workspace=workspace, from_address=f"desk{i}@example.com")
        service = BookingTypeFactory(workspace=workspace)
        WorkingHoursFactory(workspace=workspace, weekday=i % 7)
        FormTemplateFactory(workspace=workspace).booking_types.add(service)
        InvitationFactory(workspace=workspace, expires_at=timezone.now() + timedelta(days=i + 1))
        MembershipFactory(workspace=workspace)


# The base of every page: session, user, membership+workspace, the switcher's list, and the
# onboarding checks (integrations, booking types, working hours, form templates, inventory
# items, member count, and pending invitations when the owner is still alone).
BASE = 11
# What each page adds to it.
STEP_QUERIES = {
    "business_details": 0,
    "communication": 1,  # the integrations
    "contact_form": 0,
    "booking": 2,  # the services, the days with hours
    "forms": 2,  # the form templates, their services (prefetched)
    "inventory": 1,  # the item counts
    "team": 2,  # the pending invitations, the members (user joined)
    "review": 0,
}


@pytest.mark.parametrize("key", STEPS)
@pytest.mark.parametrize("n", [1, 6])
def test_each_step_page_renders_in_a_constant_number_of_queries(
    owner_client, workspace_a, django_assert_max_num_queries, key, n
):
    fill_workspace(workspace_a, n)
    owner_client.get(step_url(key))

    with django_assert_max_num_queries(BASE + STEP_QUERIES[key]):
        response = owner_client.get(step_url(key))

    assert response.status_code == 200


def test_resuming_takes_a_constant_number_of_queries(
    owner_client, workspace_a, django_assert_max_num_queries
):
    fill_workspace(workspace_a, 4)
    owner_client.get(reverse("onboarding"))

    # session, user, membership+workspace, the onboarding checks (at most seven, as above)
    with django_assert_max_num_queries(10):
        response = owner_client.get(reverse("onboarding"))

    assert response.status_code == 302
