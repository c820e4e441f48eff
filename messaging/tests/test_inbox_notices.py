"""Notices: notes to the owners at the top of their inbox (stock running out), posted once per
source, closed by an owner's Done or when their cause goes; staff never see them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from messaging.models import InboxNotice
from messaging.selectors import notices_open
from messaging.services import (
    notice_close,
    notice_post,
    notices_close_source,
    notices_post_many,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def post(workspace, source: str = "alert:1", **extra):
    extra.setdefault("title", "Gloves is low: 2 box left (threshold 3)")
    extra.setdefault("url", "/inventory/7/")
    return notice_post(workspace=workspace, source=source, **extra)


def done_url(notice: InboxNotice) -> str:
    return reverse("inbox-notice-done", args=[notice.pk])


# --- Posting and closing ------------------------------------------------------------------------


def test_posting_the_same_source_twice_keeps_one_notice(workspace_a):
    first, created = post(workspace_a)
    again, created_again = post(workspace_a, title="Another title")

    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert InboxNotice.objects.for_workspace(workspace_a).count() == 1
    assert again.title == "Gloves is low: 2 box left (threshold 3)"


def test_a_notice_marked_done_is_not_reopened_by_posting_again(workspace_a, owner):
    notice, _ = post(workspace_a)
    notice_close(notice=notice, actor=owner)

    post(workspace_a)
    notices_post_many([{"workspace_id": workspace_a.pk, "source": "alert:1", "title": "x"}])

    assert list(notices_open(workspace=workspace_a)) == []
    assert InboxNotice.objects.for_workspace(workspace_a).count() == 1


def test_posting_many_skips_those_already_posted(workspace_a, workspace_b):
    post(workspace_a, source="alert:1")

    notices_post_many(
        [
            {"workspace_id": workspace_a.pk, "source": "alert:1", "title": "Again"},
            {"workspace_id": workspace_a.pk, "source": "alert:2", "title": "Masks are out"},
            {"workspace_id": workspace_b.pk, "source": "alert:1", "title": "Bravo's own"},
        ]
    )

    assert sorted(n.title for n in notices_open(workspace=workspace_a)) == [
        "Gloves is low: 2 box left (threshold 3)",
        "Masks are out",
    ]
    assert [n.title for n in notices_open(workspace=workspace_b)] == ["Bravo's own"]


def test_closing_records_the_first_owner_and_is_idempotent(workspace_a, owner):
    notice, _ = post(workspace_a)

    notice_close(notice=notice, actor=owner)
    closed_at = notice.closed_at
    notice_close(notice=notice, actor=None)

    assert notice.closed_at == closed_at
    assert notice.closed_by == owner


def test_the_cause_going_closes_the_notice_of_its_source_only(workspace_a, workspace_b):
    post(workspace_a, source="alert:1")
    post(workspace_a, source="alert:2", title="Masks are out")
    post(workspace_b, source="alert:1", title="Bravo's own")

    assert notices_close_source(workspace=workspace_a, source="alert:1") == 1
    assert notices_close_source(workspace=workspace_a, source="alert:1") == 0

    assert [n.title for n in notices_open(workspace=workspace_a)] == ["Masks are out"]
    assert [n.title for n in notices_open(workspace=workspace_b)] == ["Bravo's own"]


# --- The inbox page -----------------------------------------------------------------------------


def test_the_owner_sees_open_notices_above_the_conversations_with_their_link(
    owner_client, workspace_a
):
    post(workspace_a)
    post(workspace_a, source="alert:2", title="Masks were out")
    notices_close_source(workspace=workspace_a, source="alert:2")

    page = owner_client.get(reverse("inbox")).content.decode()

    assert "For you" in page
    assert '<a href="/inventory/7/">Gloves is low: 2 box left (threshold 3)</a>' in page
    assert "Masks were out" not in page
    assert page.index("For you") < page.index('data-testid="conversation-list"')


def test_staff_never_see_notices(staff_client, workspace_a):
    post(workspace_a)

    page = staff_client.get(reverse("inbox")).content.decode()

    assert "For you" not in page
    assert "Gloves is low" not in page


def test_without_open_notices_the_owner_sees_no_for_you_section(owner_client, workspace_a):
    page = owner_client.get(reverse("inbox")).content.decode()

    assert "For you" not in page


@pytest.mark.parametrize("size", [1, 5])
def test_the_owners_inbox_renders_in_a_constant_number_of_queries_whatever_the_notices(
    owner_client, workspace_a, size, django_assert_max_num_queries
):
    for index in range(size):
        post(workspace_a, source=f"alert:{index}", title=f"Item {index} is low")

    # 6 queries: session, user, membership + workspace, conversations, the open notices, the
    # workspace switcher
    with django_assert_max_num_queries(6):
        response = owner_client.get(reverse("inbox"))

    assert response.status_code == 200
    assert response.content.decode().count('class="notice"') == size


# --- Done ---------------------------------------------------------------------------------------


def test_an_owner_clicking_done_closes_the_notice_and_returns_to_the_inbox(
    owner_client, workspace_a, owner
):
    notice, _ = post(workspace_a)

    response = owner_client.post(done_url(notice), follow=True)

    assert response.redirect_chain[-1][0] == reverse("inbox")
    assert "Gloves is low" not in response.content.decode()
    notice.refresh_from_db()
    assert notice.closed_at is not None
    assert notice.closed_by == owner


def test_done_by_htmx_answers_an_empty_fragment_that_removes_the_notice(owner_client, workspace_a):
    notice, _ = post(workspace_a)

    response = owner_client.post(done_url(notice), **HTMX)

    assert response.status_code == 200
    assert response.content == b""
    assert list(notices_open(workspace=workspace_a)) == []


def test_done_twice_is_harmless(owner_client, workspace_a):
    notice, _ = post(workspace_a)

    owner_client.post(done_url(notice))
    response = owner_client.post(done_url(notice))

    assert response.status_code == 302


def test_staff_may_not_mark_a_notice_done(staff_client, workspace_a):
    notice, _ = post(workspace_a)

    response = staff_client.post(done_url(notice))

    assert response.status_code == 403
    notice.refresh_from_db()
    assert notice.closed_at is None


def test_outsider_gets_404_for_another_workspaces_notice(outsider_client, workspace_a):
    notice, _ = post(workspace_a)

    response = outsider_client.post(done_url(notice))

    assert response.status_code == 404
    notice.refresh_from_db()
    assert notice.closed_at is None


def test_done_takes_only_a_post(owner_client, workspace_a):
    notice, _ = post(workspace_a)

    assert owner_client.get(done_url(notice)).status_code == 405
