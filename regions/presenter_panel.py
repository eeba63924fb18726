"""The dashboard's Scenarios panel (`#presenter-panel`): the bundled scenarios with Play,
what plays now with Stop, and the background-traffic toggle.

Its state comes from the server's presenter tasks (`presenter.runner.state()`), in the
page and in each `presenter.changed` message (payments/events.py), which a task sends when
it starts and when it ends, however it ends: every dashboard shows what runs now.
"""

from typing import Any

from django.template.loader import render_to_string

PARTIAL = "dashboard/dashboard.html#presenter"


def context(state: dict[str, Any]) -> dict[str, Any]:
    """`state`: {"scenarios": [[key, {name, description, payments}], ...], "playing": {kind: label}}."""
    return {"scenarios": state["scenarios"], "playing": state["playing"]}


def render(state: dict[str, Any]) -> str:
    return render_to_string(PARTIAL, context(state))
