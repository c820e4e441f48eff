"""An owner reaches every settings page from every other one."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

SETTINGS_PAGES = [
    "settings-integrations",
    "settings-templates",
    "settings-booking-types",
    "settings-availability",
    "settings-automation",
    "settings-webhooks",
]


@pytest.mark.parametrize("page", SETTINGS_PAGES)
def test_each_settings_page_links_to_all_settings_pages(owner_client, page):
    response = owner_client.get(reverse(page))

    assert response.status_code == 200
    html = response.content.decode()
    for other in SETTINGS_PAGES:
        assert f'href="{reverse(other)}"' in html
    assert html.count('aria-current="page"') >= 1
