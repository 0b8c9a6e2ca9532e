from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

# The project's URLconf is where the apps meet: each side of the portal is one namespace,
# made of the pages procedures and reminders each contribute. Nothing else in portal
# imports the apps above it.
from procedures import urls as procedures_urls
from procedures.feed.urls import fhir_patterns
from reminders import urls as reminders_urls

from . import metrics, password_reset, two_factor, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/reset/", password_reset.ResetByEmailView.as_view(), name="password_reset"),
    path("accounts/password/reset/sent/", password_reset.ResetSentView.as_view(), name="password_reset_done"),
    path(
        "accounts/password/reset/<str:uidb64>/<str:token>/",
        password_reset.ResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("accounts/password/done/", password_reset.ResetCompleteView.as_view(), name="password_reset_complete"),
    path("accounts/password/text/", password_reset.by_text, name="password_reset_text"),
    path("accounts/password/text/code/", password_reset.enter_code, name="password_reset_code"),
    path("accounts/password/text/new/", password_reset.new_password_by_text, name="password_reset_text_new"),
    path("accounts/two-step/", two_factor.verify, name="two_factor_verify"),
    path("accounts/two-step/setup/", two_factor.setup, name="two_factor_setup"),
    path("invite/<str:token>/", views.accept_invitation, name="accept_invitation"),
    path("i18n/setlang/", views.set_language, name="set_language"),
    path("nurse/", include((procedures_urls.nurse_patterns + reminders_urls.nurse_patterns, "nurse"))),
    path("family/", include((procedures_urls.family_patterns + reminders_urls.family_patterns, "family"))),
    path("learn/", include((procedures_urls.learn_patterns, "learn"))),
    path("webhooks/", include(reminders_urls.webhook_patterns)),
    path("", include(reminders_urls.short_patterns)),
    path("fhir/", include(fhir_patterns)),
    path("admin/", admin.site.urls),
]
