"""The dashboard's scenario and traffic actions are staff-only and refuse unknown names."""

import pytest
from django.test import Client

from payments.models import Payment

pytestmark = pytest.mark.django_db


def test_the_panel_lists_the_bundled_scenarios(operator):
    staff = Client()
    staff.force_login(operator)
    html = staff.get("/dashboard/").content.decode()
    for name in ("Happy path", "Rainy day", "Rush hour"):
        assert name in html
    assert "Start traffic" in html


def test_unknown_scenario_and_outsiders_are_refused(operator, customer):
    staff = Client()
    staff.force_login(operator)
    answer = staff.post("/dashboard/scenarios/play/", {"scenario": "../../etc/passwd"})
    assert answer.status_code == 422 and "no bundled scenario" in answer.content.decode()
    nonstaff = Client()
    nonstaff.force_login(customer)
    for url in ("/dashboard/scenarios/play/", "/dashboard/scenarios/stop/", "/dashboard/traffic/"):
        assert nonstaff.post(url, {"scenario": "happy_path", "traffic": "on"}).status_code == 403
    assert Payment.objects.count() == 0
