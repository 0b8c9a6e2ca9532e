from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProceduresConfig(AppConfig):
    name = "procedures"
    verbose_name = _("Procedures")

    def ready(self) -> None:
        from . import events, receivers  # noqa: F401 - events registers its system check

        receivers.connect()
