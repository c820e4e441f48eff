"""Every request log line carries the request id, and the user and workspace where known."""

from __future__ import annotations

import logging

import pytest

pytestmark = pytest.mark.django_db


def finished_line(caplog) -> dict:
    return next(
        record.msg
        for record in caplog.records
        if isinstance(record.msg, dict) and record.msg.get("event") == "request_finished"
    )


def test_the_request_line_names_the_user_and_the_workspace(staff_api, staff, workspace_a, caplog):
    with caplog.at_level(logging.INFO):
        response = staff_api.get(f"/api/v1/workspaces/{workspace_a.pk}/memberships")

    line = finished_line(caplog)
    assert line["request_id"] == response["X-Request-ID"]
    assert line["workspace_id"] == workspace_a.pk
    assert str(line["user_id"]) == str(staff.pk)
    assert line["code"] == 200
