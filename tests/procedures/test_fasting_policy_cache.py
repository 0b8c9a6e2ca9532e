"""The policy in force is kept in the shared cache, and a change is seen at once by every process."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from procedures import services
from procedures.models import FastingPolicy
from procedures.models import fasting_policy as module


@pytest.fixture
def shared_cache(redis_url):
    with override_settings(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}}
    ):
        caches["default"].delete_many([module.VERSION_KEY, module._HELD])
        yield caches["default"]
        caches["default"].delete_many([module.VERSION_KEY, module._HELD])


def _read() -> tuple[FastingPolicy, int]:
    with CaptureQueriesContext(connection) as ctx:
        policy = FastingPolicy.current()
    return policy, len(ctx.captured_queries)


def test_read_from_the_cache_once_kept(shared_cache, transactional_db):
    FastingPolicy.objects.create(name="Ours", solids_hours=Decimal("7"))
    policy, queries = _read()
    assert (policy.name, queries) == ("Ours", 1)
    policy, queries = _read()
    assert (policy.name, policy.solids_hours, queries) == ("Ours", Decimal("7"), 0)


def test_a_change_through_the_service_is_seen_on_the_next_read(shared_cache, db, nurse):
    policy = FastingPolicy.objects.create(name="Ours", solids_hours=Decimal("7"))
    for _ in range(3):
        FastingPolicy.current()
    policy.solids_hours = Decimal("8")
    services.update_fasting_policy(policy=policy, changed_by=nurse)
    assert FastingPolicy.current().solids_hours == Decimal("8")
    services.update_fasting_policy(policy=policy, changed_by=nurse, delete=True)
    assert FastingPolicy.current().pk is None  # the defaults again


def test_a_bulk_delete_is_seen_too(shared_cache, db):
    FastingPolicy.objects.create(name="Ours")
    for _ in range(3):
        FastingPolicy.current()
    FastingPolicy.objects.all().delete()
    assert FastingPolicy.current().pk is None


def test_a_copy_loaded_before_a_change_is_never_used_after_it(shared_cache, db):
    policy = FastingPolicy.objects.create(name="Old")
    FastingPolicy.current()
    version_before = shared_cache.get(module.VERSION_KEY)
    stale = FastingPolicy.objects.get(pk=policy.pk)
    policy.name = "New"
    policy.save()
    # A reader that read the version before the change stores what it loaded under that version, late.
    shared_cache.set(module._HELD, (version_before, stale))
    assert FastingPolicy.current().name == "New"


def test_without_the_cache_every_read_asks_the_database(shared_cache, db):
    shared_cache.set(module.VERSION_KEY, "x")
    with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}):
        FastingPolicy.current()
        assert _read()[1] == 1


def test_a_change_rolled_back_is_never_served(shared_cache, transactional_db, nurse):
    from django.db import transaction

    policy = FastingPolicy.objects.create(name="Ours", solids_hours=Decimal("7"))
    FastingPolicy.current()
    with pytest.raises(RuntimeError), transaction.atomic():
        policy.solids_hours = Decimal("9")
        services.update_fasting_policy(policy=policy, changed_by=nurse)
        # Inside the change its own transaction reads the new hours, and keeps them out of the cache.
        assert FastingPolicy.current().solids_hours == Decimal("9")
        raise RuntimeError("the change fails after the policy was saved")
    assert FastingPolicy.current().solids_hours == Decimal("7")
    assert _read()[0].solids_hours == Decimal("7")
