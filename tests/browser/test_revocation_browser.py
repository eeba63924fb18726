"""In Chromium: an open dashboard goes to the login page by itself when its operator logs
out in another tab, and when the operator is demoted (the socket's 4401 close)."""

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from tests.support.pages import log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LOGIN = re.compile(r"/accounts/login/\?next=%2Fdashboard%2F$")


def test_it_sends_an_open_dashboard_to_the_login_page_on_logout_and_on_demotion(start_demo, browser):
    server = start_demo(120)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    dashboard = context.new_page()
    try:
        log_in(dashboard, server.base_url)
        # Logging out in another tab of the same browser: a POST with the CSRF token.
        other_tab = context.new_page()
        other_tab.goto(server.base_url + "/accounts/login/")
        token = next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")
        answer = other_tab.request.post(
            server.base_url + "/accounts/logout/", headers={"X-CSRFToken": token, "Referer": server.base_url + "/"},
            max_redirects=0,
        )
        assert answer.status == 302
        dashboard.wait_for_url(LOGIN, timeout=5_000)
        expect(dashboard.get_by_label("Username")).to_be_visible()
        other_tab.close()

        log_in(dashboard, server.base_url)
        user = get_user_model().objects.get(username="operator")
        user.is_staff = False
        user.save()  # in this process: the demo server's own re-check finds it (every 3 s)
        dashboard.wait_for_url(LOGIN, timeout=10_000)
    finally:
        context.close()
