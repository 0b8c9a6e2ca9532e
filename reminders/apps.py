from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RemindersConfig(AppConfig):
    name = "reminders"
    verbose_name = _("Reminders")

    def ready(self) -> None:
        from . import receivers

        # The one seam: procedures and portal send events, delivery acts on them.
        receivers.connect()
