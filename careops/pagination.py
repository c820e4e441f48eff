"""Pagination for API lists."""

from __future__ import annotations

from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """Small lists (members, invitations, templates): numbered pages, capped page size."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
