"""A client opens the link to their intake form on their phone, finds it prefilled, fills in the
rest, signs it by typing their name, and sends it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from contacts.tests.factories import ContactFactory
from forms.models import FormSubmission
from forms.services import submission_link
from forms.tests.factories import FormSubmissionFactory, FormTemplateFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_client_fills_in_signs_and_sends_their_form(page, live_server, workspace_a, settings):
    settings.SITE_URL = live_server.url
    contact = ContactFactory(workspace=workspace_a, name="Ann Lee", email="ann@example.org")
    template = FormTemplateFactory(workspace=workspace_a, name="Intake")
    submission = FormSubmissionFactory(workspace=workspace_a, contact=contact, template=template)

    page.goto(submission_link(submission))

    expect(page.get_by_role("heading", level=1)).to_have_text("Intake")
    expect(page.get_by_text("Alpha Clinic").first).to_be_visible()
    expect(page.get_by_label("Full name")).to_have_value("Ann Lee")
    expect(page.get_by_label("Email")).to_have_value("ann@example.org")

    # Sent without the consent first: the page says what is missing and keeps the rest.
    page.get_by_label("Age").fill("41")
    page.get_by_role("radio", name="No").check()
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Tick this box to continue.", exact=True)).to_be_visible()
    expect(page.get_by_label("I agree to the treatment terms")).to_have_accessible_description(
        "Tick this box to continue."
    )
    expect(page.get_by_label("Age")).to_have_value("41")
    expect(page.get_by_role("radio", name="No")).to_be_checked()

    page.get_by_role("checkbox", name="Neck").check()
    page.get_by_label("I agree to the treatment terms").check()
    signature = page.get_by_role("textbox", name="Signature")
    expect(signature).to_have_accessible_description(re.compile("sign it electronically"))
    signature.fill("Ann Lee")
    page.get_by_role("button", name="Send").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you")
    expect(page.get_by_text("Signed by Ann Lee.")).to_be_visible()
    submission.refresh_from_db()
    assert submission.status == FormSubmission.Status.COMPLETED
    assert submission.answers["areas"] == ["Neck"]
    assert submission.signed_name == "Ann Lee"

    # The link again: already sent, not a second form.
    page.goto(submission_link(submission))
    expect(page.get_by_role("heading", level=1)).to_have_text("This form has already been sent")
