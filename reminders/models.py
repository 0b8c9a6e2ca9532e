# Reminder rows arrive with the reminder engine; the app exists so its tasks
# are discovered by Celery from the start.
