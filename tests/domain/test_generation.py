"""The copies MoMo calls keep of their rows (payments/generation.py): a write commits while
Redis is down, and no copy outlives its bound whatever the shared generation says."""

import logging

import pytest
from django.test import override_settings

from payments import generation
from payments.models import SimulatorSettings
from payments.services import settings_update
from tests.support import free_port

UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "dashboard.cache.SharedRedisCache",
        "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}


@pytest.mark.django_db(transaction=True)
def test_a_settings_write_while_redis_is_down_commits_and_logs_the_lost_replacement(caplog):
    caplog.set_level(logging.WARNING, logger="payments.generation")
    with override_settings(CACHES=UNREACHABLE_REDIS):
        assert generation.shared()
        settings_update(actor="test", paused=True)
    assert SimulatorSettings.objects.get(pk=1).paused is True
    assert "MoMo row copies not retired" in caplog.text


def test_a_copy_is_read_again_once_it_is_older_than_its_bound(monkeypatch):
    reads = []

    def read():
        reads.append(len(reads) + 1)
        return reads[-1]

    generation.observe("a generation no write replaced")
    try:
        assert generation.kept("a row", read)[0] == 1
        assert generation.kept("a row", read)[0] == 1  # the copy
        monkeypatch.setattr(generation, "MAX_AGE", 0.0)
        assert generation.kept("a row", read)[0] == 2  # too old: read again
    finally:
        generation.observe(None)
