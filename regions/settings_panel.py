"""The dashboard's live settings panel (`#settings-panel`), with its form."""

from typing import Any

from django import forms

from payments.selectors import settings_snapshot, simulator_settings

PARTIAL = "dashboard/dashboard.html#settings"


class SettingsForm(forms.Form):
    timeout_seconds = forms.FloatField(
        label="Timeout (s)", min_value=0, max_value=86_400,
        error_messages={"invalid": "Timeout must be a number of seconds.",
                        "min_value": "Timeout must be 0 seconds or more.",
                        "max_value": "Timeout must be at most 86400 seconds (a day)."},
    )
    success_rate = forms.FloatField(
        label="Success rate (0–1)", min_value=0, max_value=1,
        error_messages={"invalid": "Success rate must be a number between 0 and 1.",
                        "min_value": "Success rate must be between 0 and 1: 0.9 means 9 in 10 succeed.",
                        "max_value": "Success rate must be between 0 and 1: 0.9 means 9 in 10 succeed."},
    )
    expiry_seconds = forms.IntegerField(
        label="Expiry (s)", min_value=1, max_value=7 * 86_400,
        error_messages={"invalid": "Expiry must be a whole number of seconds.",
                        "min_value": "Expiry must be at least 1 second.",
                        "max_value": "Expiry must be at most 604800 seconds (a week)."},
    )


def read() -> dict[str, Any]:
    return settings_snapshot(simulator_settings())


def context(config: dict[str, Any], form: SettingsForm | None = None) -> dict[str, Any]:
    # 30 rather than 30.0 in the inputs.
    initial = {name: f"{value:g}" if isinstance(value, float) else value for name, value in config.items()}
    return {"config": config, "form": form or SettingsForm(initial=initial)}
