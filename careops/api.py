"""The REST API under /api/v1/: one router, plus the auth endpoints and the schema."""

from __future__ import annotations

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_replace
from django.urls import path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework.routers import SimpleRouter

from automation import api as automation_api
from bookings import api as bookings_api
from careops.dashboard.api import DashboardStatsView
from contacts import api as contacts_api
from forms import api as forms_api
from inventory import api as inventory_api
from messaging import api as messaging_api
from workspaces import api as workspaces_api

# Swagger UI and ReDoc style themselves inline (a <style> in Swagger's page, styled-components'
# rules in ReDoc's) and ReDoc searches in a blob: worker; their scripts still come only from our
# static files (the split view serves Swagger's start-up script as a file, not inline).
api_docs = csp_replace({"style-src": [SELF, UNSAFE_INLINE], "worker-src": [SELF, "blob:"]})

router = SimpleRouter(trailing_slash=False)
router.register("workspaces", workspaces_api.WorkspaceViewSet, basename="workspace")
router.register(
    r"workspaces/(?P<workspace_pk>[0-9]+)/invitations",
    workspaces_api.InvitationViewSet,
    basename="workspace-invitation",
)
router.register(
    r"workspaces/(?P<workspace_pk>[0-9]+)/memberships",
    workspaces_api.MembershipViewSet,
    basename="workspace-membership",
)
contacts_api.register(router)
messaging_api.register(router)
bookings_api.register(router)
forms_api.register(router)
inventory_api.register(router)
automation_api.register(router)

urlpatterns = [
    path("auth/register", workspaces_api.RegisterView.as_view(), name="auth-register"),
    path("auth/login", workspaces_api.LoginView.as_view(), name="auth-login"),
    path("auth/refresh", workspaces_api.RefreshView.as_view(), name="auth-refresh"),
    path("auth/logout", workspaces_api.LogoutView.as_view(), name="auth-logout"),
    path("auth/me", workspaces_api.MeView.as_view(), name="auth-me"),
    path(
        "invitations/accept",
        workspaces_api.InvitationAcceptView.as_view(),
        name="invitation-accept-api",
    ),
    *contacts_api.urlpatterns,
    *messaging_api.urlpatterns,
    *bookings_api.urlpatterns,
    *forms_api.urlpatterns,
    *inventory_api.urlpatterns,
    *automation_api.urlpatterns,
    path("dashboard/stats", DashboardStatsView.as_view(), name="dashboard-stats"),
    *router.urls,
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "docs/",
        api_docs(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    path(
        "redoc/",
        api_docs(
            SpectacularRedocView.as_view(url_name="api-schema", template_name="api/redoc.html")
        ),
        name="api-redoc",
    ),
]
