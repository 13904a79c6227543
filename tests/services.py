"""What a test needs from the machine. Without GF_REQUIRE_SERVICES a missing service skips
the test (a laptop without Redis); in CI (GF_REQUIRE_SERVICES=1) it fails the run instead."""

import os
import shutil

import pytest
from django.db import connection

CHROMIUM = "/usr/bin/chromium"


def require(condition: bool, what: str) -> None:
    if condition:
        return
    if os.environ.get("GF_REQUIRE_SERVICES"):
        pytest.fail(f"{what} is required in CI but missing")
    pytest.skip(f"{what} is not available here")


def require_chromium() -> None:
    require(os.path.exists(CHROMIUM) or bool(shutil.which("chromium")), f"Chromium at {CHROMIUM}")


def require_worker_stack() -> None:
    require(bool(os.environ.get("REDIS_URL")), "Redis (REDIS_URL)")
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
