"""The real processes the fault tests break: gunicorn serving the portal and Celery workers,
each a subprocess against the test database, started and killed by the tests."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import requests
from django.db import connection

from gigafactory.celery import app as celery_app
from tests.services import require
from tests.worker import test_database_url, wait_for

ROOT = Path(__file__).resolve().parent.parent.parent
SERVER_APP_NAME = "gf-fault-server"  # PostgreSQL application_name of the server's connections
CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def require_postgres() -> None:
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")


def require_redis() -> None:
    require(bool(os.environ.get("REDIS_URL")), "Redis (REDIS_URL)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**overrides) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        DJANGO_SETTINGS_MODULE="gigafactory.settings",
        DATABASE_URL=f"{test_database_url()}?application_name={SERVER_APP_NAME}",
        DJANGO_DEBUG="0",
        GF_SEED_ON_FIRST_RUN="0",
    )
    env.update(overrides)
    return env


class Server:
    def __init__(self, base_url: str, log: Path):
        self.base_url = base_url
        self.log = log

    def url(self, path: str) -> str:
        return self.base_url + path

    def get(self, path, **kwargs):
        return requests.get(self.url(path), timeout=30, allow_redirects=False, **kwargs)

    def post(self, path, **kwargs):
        return requests.post(self.url(path), timeout=30, allow_redirects=False, **kwargs)


@contextmanager
def gunicorn(tmp_path, *, workers=1, threads=4, **env):
    """The portal under gunicorn on a free port; ``env`` overrides the environment (e.g. REDIS_URL)."""
    port = free_port()
    log = tmp_path / f"gunicorn-{port}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "gigafactory.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--threads",
                str(threads),
                "--worker-class",
                "gthread",
                "--timeout",
                "60",
            ],
            cwd=ROOT,
            env=_env(**env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", log)

    def up():
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited:\n{log.read_text()[-3000:]}")
        try:
            return requests.get(server.url("/healthz"), timeout=10).status_code == 200
        except (requests.ConnectionError, requests.Timeout):
            return False

    try:
        wait_for(up, timeout=60, log=log)
        yield server
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class Worker:
    """A Celery worker (prefork) in its own process group, so SIGKILL takes the whole of it."""

    def __init__(self, queue: str, log: Path, concurrency: int):
        self.queue, self.log, self.concurrency = queue, log, concurrency
        self.process = None

    def start(self):
        out = self.log.open("a")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "gigafactory",
                "worker",
                "-Q",
                self.queue,
                "-l",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-P",
                "prefork",
                "-c",
                str(self.concurrency),
            ],
            cwd=ROOT,
            env=_env(DATABASE_URL=test_database_url(), GF_CELERY_QUEUE=self.queue),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        return self

    def kill(self):
        """SIGKILL the worker and its pool processes at once: no shutdown, no acknowledgement."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()


@contextmanager
def celery_queue(tmp_path, *, concurrency=2):
    """Send this test's tasks to a queue of its own; yields a ``Worker`` factory for that queue."""
    require_redis()
    queue = f"fault-{uuid.uuid4().hex[:10]}"
    log = tmp_path / f"{queue}.log"
    workers = []

    def worker():
        w = Worker(queue, log, concurrency).start()
        workers.append(w)
        return w

    previous = (celery_app.conf.task_always_eager, celery_app.conf.task_default_queue)
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = queue
    try:
        yield worker, log
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = previous
        for w in workers:
            w.stop()
        _forget_queue(queue)


def _forget_queue(queue: str) -> None:
    """Leave nothing behind in Redis: the queue, and what a killed worker held unacknowledged
    (kombu would put it back into the queue after the visibility timeout)."""
    with celery_app.connection_for_write() as conn:
        channel = conn.default_channel
        client, qos = channel.client, channel.qos
        client.delete(queue)
        for tag, raw in client.hgetall(qos.unacked_key).items():
            _message, _exchange, routing_key = json.loads(raw)
            if routing_key == queue:
                client.hdel(qos.unacked_key, tag)
                client.zrem(qos.unacked_index_key, tag)


def poll(predicate, *, timeout=300.0, log=None):
    wait_for(predicate, timeout=timeout, interval=0.2, log=log)


def pause(seconds: float) -> None:
    time.sleep(seconds)
