"""The services guard their own input: a bad value is one domain error and writes nothing.

Forms, serializers and flags only translate these errors (their own tests check the words
in each channel); here the services are called directly, as any new caller would.
"""

import math

import pytest

from payments import services
from payments.models import Payment, PaymentLog, SimulatorSettings
from payments.selectors import simulator_settings
from tests.support.factories import make_payment

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"timeout_seconds": -1}, "timeout_seconds"),
        ({"timeout_seconds": 86_401}, "timeout_seconds"),
        ({"timeout_seconds": math.nan}, "timeout_seconds"),
        ({"timeout_seconds": "30"}, "timeout_seconds"),
        ({"success_rate": 5}, "success_rate"),
        ({"success_rate": -0.1}, "success_rate"),
        ({"success_rate": True}, "success_rate"),
        ({"expiry_seconds": 0}, "expiry_seconds"),
        ({"expiry_seconds": 7 * 86_400 + 1}, "expiry_seconds"),
        ({"expiry_seconds": 2.5}, "expiry_seconds"),
        ({"paused": "yes"}, "paused"),
        ({"timeout_seconds": 10, "success_rate": 5}, "success_rate"),  # all or nothing
        ({"speed": 2}, "speed"),
    ],
)
def test_it_refuses_a_bad_setting_and_writes_nothing(changes, field):
    before = simulator_settings()
    with pytest.raises(services.PaymentError) as refused:
        services.settings_update(actor="test", **changes)
    assert isinstance(refused.value, services.InvalidValue) and refused.value.field == field
    after = SimulatorSettings.objects.get(pk=1)
    assert (after.version, after.timeout_seconds, after.success_rate) == (
        before.version, before.timeout_seconds, before.success_rate,
    )
    assert not PaymentLog.objects.filter(event=PaymentLog.Event.CONFIG).exists()


def test_it_accepts_the_edges_of_each_range():
    config = services.settings_update(actor="test", timeout_seconds=86_400, success_rate=1.0, expiry_seconds=1)
    assert (config.timeout_seconds, config.success_rate, config.expiry_seconds) == (86_400, 1.0, 1)
    config = services.settings_update(actor="test", timeout_seconds=0, success_rate=0, expiry_seconds=7 * 86_400)
    assert (config.timeout_seconds, config.success_rate, config.expiry_seconds) == (0, 0, 7 * 86_400)


@pytest.mark.parametrize(
    ("outcome", "reason", "field"),
    [
        ("maybe", "", "outcome"),
        ("processing", "", "outcome"),
        ("successful", "EXPIRED", "reason"),
        ("failed", "BECAUSE", "reason"),
        ("failed", None, "reason"),
    ],
)
def test_it_refuses_a_bad_outcome_or_reason_and_writes_nothing(outcome, reason, field):
    payment = make_payment()
    with pytest.raises(services.InvalidValue) as refused:
        services.payment_force(payment=payment, outcome=outcome, reason=reason, actor="test")
    assert refused.value.field == field and str(refused.value)
    payment.refresh_from_db()
    assert (payment.status, payment.version) == ("processing", 1)
    assert list(payment.logs.values_list("event", flat=True)) == ["created"]


def test_it_refuses_bad_values_before_it_says_already_settled():
    payment = make_payment()
    services.payment_force(payment=payment, outcome="successful", actor="test")
    with pytest.raises(services.InvalidValue):
        services.payment_force(payment=payment, outcome="maybe", actor="test")


def test_a_failure_without_a_reason_gets_the_one_default():
    payment = services.payment_force(payment=make_payment(), outcome="failed", actor="test")
    assert payment.reason == services.DEFAULT_FAIL_REASON == "APPROVAL_REJECTED"
    assert Payment.objects.get(pk=payment.pk).reason == "APPROVAL_REJECTED"
