"""gunicorn's settings beyond the command line. gunicorn reads this file from its working
directory: the project root, where docker-compose, the Dockerfile and bench/run.py start it."""

import gc


def post_worker_init(worker):
    """Freeze what the worker has loaded (Django, the URLconf and every view, DRF, the models)
    into the garbage collector's permanent generation. These objects live as long as the
    worker, yet each full collection walked all of them again: a usage batch of 10,000
    records, whose decoding and checks allocate some 100,000 objects, set off enough
    collections to cost 50 ms of a 550 ms request (bench/run.py). New objects are still
    collected as before."""
    from importlib import import_module

    from django.conf import settings

    import_module(settings.ROOT_URLCONF)  # the URLconf and, through its includes, every view
    gc.freeze()
