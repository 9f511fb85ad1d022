import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taizhou_si.settings")

app = Celery("taizhou_si")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
