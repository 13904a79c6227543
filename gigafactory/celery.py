"""The Celery app: Redis broker from REDIS_URL, eager in-process without it."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gigafactory.settings")

app = Celery("gigafactory")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect
@signals.task_postrun.connect
def close_old_connections(sender=None, **kwargs):
    """Around each task, close the database connections that are broken or past CONN_MAX_AGE,
    as Django does around each request.

    Celery's Django fixup closes every connection around every task unless
    ``CELERY_DB_REUSE_MAX`` is set (settings.py sets it): a new PostgreSQL connection per task
    costs about 5 ms, more than a whole screening of one application in a batch. With
    ``CONN_MAX_AGE = 0`` (development) this still closes them every time.
    """
    if sender is not None and getattr(sender.request, "is_eager", False):
        return  # in-process: the caller's connection (and transaction) is not ours to close
    from django.db import close_old_connections as close

    close()
