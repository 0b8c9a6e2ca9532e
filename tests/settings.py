"""Test settings: the production settings with a throwaway secret and plain static storage."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")

from tests.parallel import redis_url_for_worker, worker_number

# Each parallel worker (pytest -n) on its own Redis database, and whatever it starts (Celery workers) too.
if os.environ.get("REDIS_URL"):
    os.environ["REDIS_URL"] = redis_url_for_worker(os.environ["REDIS_URL"], worker_number())

from portal.settings import *  # noqa: F403

# The hashed-manifest storage needs collectstatic; tests render templates without it.
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
# Fast hashing keeps factories quick; production keeps Django's default hasher.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The test client and live server speak plain HTTP.
SECURE_SSL_REDIRECT = False
# Each test process counts its own rate limits (cleared between tests).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Most tests log staff in directly; tests/portal/test_two_factor.py switches this on.
TWO_FACTOR_FOR_STAFF = False
