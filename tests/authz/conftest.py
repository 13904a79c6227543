import pytest
from django.test import TestCase

from .world import build_world


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The matrix's two hubs, built once per module and rolled back after it.

    ``TestCase._enter_atomics`` marks the transaction as a test transaction, so services with
    ``atomic(durable=True)`` still run inside it, as in any pytest-django test.
    """
    with django_db_blocker.unblock():
        atomics = TestCase._enter_atomics()
        try:
            yield build_world()
        finally:
            TestCase._rollback_atomics(atomics)
