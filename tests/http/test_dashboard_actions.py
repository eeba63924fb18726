"""The dashboard's actions and pages over HTTP: each action one service call, bad input in words."""

import pytest

from payments.models import Payment, PaymentLog
from payments.selectors import simulator_settings
from payments.services import payment_force, settings_update
from tests.support.factories import make_payment

pytestmark = pytest.mark.django_db


def rows_of(response) -> str:
    html = response.content.decode()
    return html[html.index('id="payment-rows"'):]


def test_it_lists_the_latest_payments_newest_first_with_filter_and_search(staff):
    older = make_payment("46733123451")
    payment_force(payment=older, outcome="failed", reason="APPROVAL_REJECTED", actor="test")
    newer = make_payment("46733123499")
    rows = rows_of(staff.get("/dashboard/"))
    assert rows.index(str(newer.reference)) < rows.index(str(older.reference))

    failed = rows_of(staff.get("/dashboard/?status=failed"))
    assert str(older.reference) in failed and str(newer.reference) not in failed
    by_reference = rows_of(staff.get(f"/dashboard/?q={str(newer.reference)[:8].upper()}"))
    assert str(newer.reference) in by_reference and str(older.reference) not in by_reference
    by_phone = rows_of(staff.get("/dashboard/?q=%2B46733123451"))
    assert str(older.reference) in by_phone and str(newer.reference) not in by_phone
    nothing = staff.get("/dashboard/?status=bogus&q=nomatch")
    assert nothing.status_code == 200 and "match this filter" in nothing.content.decode()


def test_it_shows_a_payment_with_its_whole_log_as_a_timeline(staff):
    payment = make_payment()
    staff.post(f"/dashboard/payments/{payment.reference}/force/", {"outcome": "failed", "reason": "PAYER_LIMIT_REACHED"})
    html = staff.get(f"/dashboard/payments/{payment.reference}/").content.decode()
    timeline = html[html.index('class="timeline"'):]
    assert timeline.index("Created") < timeline.index("Forced")
    assert "operator:operator" in timeline and "processing → failed" in timeline
    assert "PAYER_LIMIT_REACHED" in html and "The account has reached its payment limit." in html
    assert staff.get("/dashboard/payments/00000000-0000-4000-8000-000000000000/").status_code == 404


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"outcome": "maybe"}, "Choose an outcome: successful or failed."),
        ({"outcome": "failed", "reason": "BECAUSE"}, "Unknown MoMo reason code: BECAUSE."),
    ],
)
def test_it_refuses_a_bad_force_in_words_and_changes_nothing(staff, data, words):
    payment = make_payment()
    response = staff.post(f"/dashboard/payments/{payment.reference}/force/", data)
    assert response.status_code == 422
    assert words in response.content.decode()
    payment.refresh_from_db()
    assert (payment.status, payment.version) == ("processing", 1)


def test_it_answers_a_second_force_with_already_settled(staff):
    payment = make_payment()
    url = f"/dashboard/payments/{payment.reference}/force/"
    assert staff.post(url, {"outcome": "successful"}).status_code == 200
    again = staff.post(url, {"outcome": "failed"})
    assert again.status_code == 409
    body = again.content.decode()
    assert "is already settled (successful); nothing changed." in body and "<html" not in body
    assert f'id="row-{payment.reference}"' in body and "status-successful" in body  # the winner's row
    assert PaymentLog.objects.filter(payment=payment, event="forced").count() == 1


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("timeout_seconds", "-1", "Timeout must be 0 seconds or more."),
        ("timeout_seconds", "soon", "Timeout must be a number of seconds."),
        ("timeout_seconds", "inf", "Timeout must be a number of seconds."),
        ("success_rate", "1.5", "Success rate must be between 0 and 1"),
        ("success_rate", "90%", "Success rate must be a number between 0 and 1."),
        ("expiry_seconds", "0", "Expiry must be at least 1 second."),
        ("expiry_seconds", "2.5", "Expiry must be a whole number of seconds."),
        ("expiry_seconds", "", "This field is required."),
    ],
)
def test_it_refuses_bad_settings_in_words_and_changes_nothing(staff, field, value, words):
    before = simulator_settings().version
    data = {"timeout_seconds": "5", "success_rate": "0.8", "expiry_seconds": "60", field: value}
    response = staff.post("/dashboard/settings/", data)
    assert response.status_code == 422
    body = response.content.decode()
    assert words in body
    assert f'id="settings-{field}"' in body and 'aria-invalid="true"' in body  # the panel shows it by the field
    assert simulator_settings().version == before
    assert not PaymentLog.objects.filter(event="config").exists()


def test_it_settles_every_processing_payment_now(staff):
    settings_update(actor="test", success_rate=1.0)  # the draw is unseeded; the test number always fails
    payments = [make_payment() for _ in range(3)] + [make_payment("46733123451")]
    response = staff.post("/dashboard/settle-all/")
    assert response.status_code == 200
    assert "Settled 4 now: 3 successful, 1 failed." in response.content.decode()
    assert not Payment.objects.filter(status="processing").exists()
    actors = set(PaymentLog.objects.filter(payment__in=payments, event="forced").values_list("actor", flat=True))
    assert actors == {"operator:operator"}
    assert "Nothing to settle" in staff.post("/dashboard/settle-all/").content.decode()
