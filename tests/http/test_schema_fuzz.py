"""Schemathesis against /api/schema/, in-process over WSGI, anonymous and as staff: every
operation answers what its schema says (status codes, bodies, content types), never a 5xx,
and accepts every request the schema calls valid (it generates valid payments too).

Bounded: a fixed number of examples per operation, no shrinking of passing runs, so the
whole file takes seconds (its time is printed by `pytest --durations`)."""

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from django.utils.crypto import get_random_string
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection
from werkzeug.test import Client as WsgiClient

from payments.models import Payment

EXAMPLES = 10
# The schema documents the canonical form; the server also takes "+46 733-123 499", a JSON
# number as an amount, "eur", any clean booking key: so "schema-violating request
# accepted" is by design. Every other check runs, on valid and invalid requests alike.
LENIENT = [negative_data_rejection]
STAFF_PASSWORD = "st-pass-123"

pytestmark = pytest.mark.django_db


def from_loopback(app):
    """Werkzeug's test client sends no client address; the DEBUG server answers loopback only."""

    def call(environ, start_response):
        environ["REMOTE_ADDR"] = "127.0.0.1"
        return app(environ, start_response)

    return call


# Served by the app itself (no database needed to serve it), loaded once at collection.
schema = schemathesis.openapi.from_wsgi("/api/schema/", from_loopback(get_wsgi_application()))
# The fuzzing phase only (valid and invalid requests, EXAMPLES each): the coverage phase's
# hundreds of boundary cases per operation would take minutes.
schema.config.phases.coverage.enabled = False


@pytest.fixture(autouse=True)
def _in_the_test_transaction(settings):
    """As Django's test client does: the WSGI handler must not close the test's connection."""
    settings.PAYMENT_CREATE_RATE = "100000/min"  # the throttle is tested elsewhere
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def staff(db) -> dict[str, dict[str, str]]:
    """A signed-in operator as the browser sends it: the session cookie, and the CSRF
    cookie and header the REST API asks of a session on every POST."""
    operator = get_user_model().objects.create_user("fuzz-operator", password=STAFF_PASSWORD, is_staff=True)
    client = Client()
    client.force_login(operator)
    token = get_random_string(32)
    cookies = {"sessionid": client.cookies["sessionid"].value, "csrftoken": token}
    check = WsgiClient(schema.app)
    for name, value in cookies.items():
        check.set_cookie(name, value, domain="localhost")
    assert check.get("/api/payments/").status_code == 200  # staff indeed
    return {"headers": {"X-CSRFToken": token}, "cookies": cookies}


bounded = settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@schema.include(path_regex="^/api/").parametrize()
@bounded
def test_it_keeps_to_its_schema_for_anyone(case):
    case.call_and_validate(excluded_checks=LENIENT)


@schema.include(path_regex="^/api/").parametrize()
@bounded
def test_it_keeps_to_its_schema_for_staff(case, staff):
    case.call_and_validate(**staff, excluded_checks=LENIENT)


def test_it_generates_payments_that_are_accepted():
    """The schema is precise enough that its valid bodies are payments: all were created."""
    operation = schema["/api/payments/"]["POST"]
    strategy = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)

    @given(strategy)
    @bounded
    def create(case):
        response = case.call()
        assert response.status_code == 201, (case.body, response.text)

    create()
    assert Payment.objects.count() >= EXAMPLES // 2
