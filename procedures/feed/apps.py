from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FeedConfig(AppConfig):
    name = "procedures.feed"
    label = "feed"
    verbose_name = _("Schedules from the hospital's record system")
    default_auto_field = "django.db.models.BigAutoField"
