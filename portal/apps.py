from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("Accounts and operations")

    def ready(self) -> None:
        from django.urls import register_converter

        from . import signals  # noqa: F401 - connects the receivers
        from .converters import IdConverter

        # Before any urls.py is read: routes take ids as <id:pk>.
        register_converter(IdConverter, "id")
