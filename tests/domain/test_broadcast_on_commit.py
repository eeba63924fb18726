"""Nothing is pushed that did not commit; what commits is pushed with its snapshot."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from payments.events import DASHBOARD_GROUP, payment_group
from payments.models import Payment
from payments.services import payment_force
from tests.support.factories import make_payment

pytestmark = pytest.mark.django_db


def _listen(group: str) -> str:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)
    return channel


def test_it_pushes_a_committed_change_to_the_payment_and_the_dashboard(django_capture_on_commit_callbacks):
    payment = make_payment()
    checkout = _listen(payment_group(str(payment.reference)))
    dashboard = _listen(DASHBOARD_GROUP)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        payment_force(payment=payment, outcome="failed", reason="EXPIRED", actor="operator:alice")
    assert len(callbacks) == 1
    layer = get_channel_layer()
    for channel in (checkout, dashboard):
        message = async_to_sync(layer.receive)(channel)
        assert message["type"] == "payment.updated"
        assert message["payment"]["status"] == "failed"
        assert message["payment"]["reason"] == "EXPIRED"
        assert message["payment"]["version"] == 2


def test_it_pushes_nothing_when_the_transaction_rolls_back(django_capture_on_commit_callbacks):
    payment = make_payment()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                payment_force(payment=payment, outcome="successful", actor="operator:alice")
                raise RuntimeError("something after the change failed")
    assert callbacks == []
    payment.refresh_from_db()
    assert payment.status == "processing" and payment.version == 1
    assert not Payment.objects.filter(status="successful").exists()
