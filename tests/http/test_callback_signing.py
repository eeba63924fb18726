"""Optional Standard Webhooks signatures, per API user: a receiver verifies them with the
`standardwebhooks` library; a tampered body or header fails. Off by default (MoMo signs nothing)."""


import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from payments import services
from payments.models import CallbackDelivery
from tests.support.callback_receiver import api_user, momo_payment, send_callback_of


def test_it_signs_callbacks_for_an_api_user_that_asked_and_the_signature_verifies(transactional_db, receiver):
    user = api_user()
    secret = services.callback_settings_update(actor="operator:alice", momo_user=user, signing=True)["signing_secret"]
    assert secret.startswith("whsec_")
    send_callback_of(momo_payment(user, receiver.url(), external_id="signed"))

    [request] = receiver.got
    webhook = Webhook(secret)
    assert webhook.verify(request.raw, request.headers)["externalId"] == "signed"
    assert request.headers["Webhook-Id"] and request.headers["Webhook-Timestamp"].isdigit()
    tampered = request.raw.replace(b"SUCCESSFUL", b"FAILED")
    with pytest.raises(WebhookVerificationError):
        webhook.verify(tampered, request.headers)
    with pytest.raises(WebhookVerificationError):
        webhook.verify(request.raw, {**request.headers, "Webhook-Id": "msg_other"})
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(request.raw, request.headers)  # someone else's secret
    assert CallbackDelivery.objects.get().status == CallbackDelivery.Status.DELIVERED


def test_it_signs_nothing_by_default(transactional_db, receiver):
    send_callback_of(momo_payment(api_user(), receiver.url()))
    [request] = receiver.got
    assert not {h.lower() for h in request.headers} & {"webhook-id", "webhook-timestamp", "webhook-signature"}
