"""Start a real Celery worker subprocess against Redis and the test database."""

import os
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

from gigafactory.celery import app as celery_app
from tests.services import require_worker_stack

ROOT = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{s['USER']}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@contextmanager
def celery_worker(tmp_path, *, concurrency=1):
    """A worker on its own queue, so no other worker on the machine steals the test's tasks."""
    require_worker_stack()
    queue = f"test-{uuid.uuid4().hex[:10]}"
    log = tmp_path / f"{queue}.log"
    env = os.environ | {
        "DATABASE_URL": test_database_url(),
        "DJANGO_SETTINGS_MODULE": "gigafactory.settings",
        "GF_CELERY_QUEUE": queue,  # what the worker's own tasks send stays on this queue
    }
    pool = ["-P", "solo"] if concurrency == 1 else ["-P", "prefork", "-c", str(concurrency)]
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "gigafactory",
                "worker",
                "-Q",
                queue,
                "-l",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                *pool,
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    previous = (celery_app.conf.task_always_eager, celery_app.conf.task_default_queue)
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = queue
    try:
        yield process, log
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = previous
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_for(predicate, *, timeout=60.0, interval=0.2, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    tail = log.read_text()[-3000:] if log is not None and log.exists() else ""
    raise AssertionError(f"condition not met within {timeout}s; worker log tail:\n{tail}")
