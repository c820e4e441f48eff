from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from careops import health
from careops.dashboard.views import DashboardFiguresView, DashboardPanelsView, DashboardView
from workspaces import views as workspace_views
from workspaces import views_onboarding, views_team
from workspaces.forms import EmailAuthenticationForm

admin.site.site_header = "CareOps support"
admin.site.site_title = "CareOps support"

handler400 = "careops.errors.handler400"
handler403 = "careops.errors.handler403"
handler404 = "careops.errors.handler404"
handler500 = "careops.errors.handler500"

urlpatterns = [
    path("", DashboardView.as_view(), name="dashboard"),
    path("dashboard/panels/", DashboardPanelsView.as_view(), name="dashboard-panels"),
    path("dashboard/figures/", DashboardFiguresView.as_view(), name="dashboard-figures"),
    path("health", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("api/v1/", include("careops.api")),
    path("webhooks/", include("messaging.webhook_urls")),
    path("admin/", admin.site.urls),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            authentication_form=EmailAuthenticationForm, redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("signup/", workspace_views.signup, name="signup"),
    path("workspaces/new/", workspace_views.workspace_new, name="workspace-new"),
    path("workspaces/switch/", workspace_views.workspace_switch, name="workspace-switch"),
    path("invitations/<str:token>/", workspace_views.invitation_accept, name="invitation-accept"),
    path("settings/team/", views_team.TeamView.as_view(), name="settings-team"),
    path(
        "settings/team/members/<int:pk>/access/",
        views_team.MemberAccessView.as_view(),
        name="settings-team-access",
    ),
    path(
        "settings/team/members/<int:pk>/remove/",
        views_team.MemberRemoveView.as_view(),
        name="settings-team-remove",
    ),
    path(
        "settings/team/invitations/<int:pk>/revoke/",
        views_team.InvitationRevokeView.as_view(),
        name="settings-team-invitation-revoke",
    ),
    path("onboarding/", views_onboarding.OnboardingStartView.as_view(), name="onboarding"),
    path(
        "onboarding/<slug:step>/",
        views_onboarding.OnboardingStepView.as_view(),
        name="onboarding-step",
    ),
    path("", include("contacts.urls")),
    path("", include("messaging.urls")),
    path("", include("bookings.urls")),
    path("", include("bookings.public_urls")),
    path("", include("forms.urls")),
    path("", include("inventory.urls")),
    path("", include("automation.urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
