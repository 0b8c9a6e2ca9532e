from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("Accounts and operations")

    def ready(self) -> None:
        from . import signals  # noqa: F401 - connects the receivers
