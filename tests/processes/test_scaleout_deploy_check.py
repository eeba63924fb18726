"""The scale-out configuration (PostgreSQL pool, Redis layer) passes Django's deploy checklist.

tests/processes/test_configuration.py checks the default database; this one the production stack
the README's "Scale-out and deployment" section describes.
"""

import pytest

from tests.support import child_env, manage

PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "k3v9-production-like-secret-with-enough-entropy-0d8f7a6b5c4e3d2c1b0a",
    "ALLOWED_HOSTS": "demo.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://demo.example.com",
    "DATABASE_URL": "postgresql://livesettle@127.0.0.1:5432/livesettle",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


@pytest.mark.parametrize("layer", ["pubsub", "core"])
def test_it_passes_check_deploy_with_postgresql_and_redis(layer):
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=child_env(**PRODUCTION, CHANNEL_LAYER=layer))
    assert "no issues" in result.stdout, result.stdout + result.stderr
