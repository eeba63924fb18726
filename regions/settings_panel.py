"""The dashboard's live settings panel (`#settings-panel`), with its form."""

from typing import Any

from django import forms

from payments import services, validation
from payments.selectors import settings_snapshot, simulator_settings

PARTIAL = "dashboard/dashboard.html#settings"


class SettingsForm(forms.Form):
    """Parses the numbers; their ranges are the service's (`settings_update` says what is wrong)."""

    timeout_seconds = validation.AsciiFloatField(
        label="Timeout (s)", error_messages={"invalid": "Timeout must be a number of seconds."}
    )
    success_rate = validation.AsciiFloatField(
        label="Success rate (0–1)", error_messages={"invalid": "Success rate must be a number between 0 and 1."}
    )
    expiry_seconds = validation.AsciiIntegerField(
        label="Expiry (s)", error_messages={"invalid": "Expiry must be a whole number of seconds."}
    )

    def clean(self) -> dict[str, Any]:
        # Every field's range at once, in the service's words.
        for name, value in list(self.cleaned_data.items()):
            try:
                services.SETTING_CHECKS[name](value)
            except services.InvalidValue as exc:
                self.add_error(name, str(exc))
        return self.cleaned_data


def read() -> dict[str, Any]:
    return settings_snapshot(simulator_settings())


def context(config: dict[str, Any], form: SettingsForm | None = None) -> dict[str, Any]:
    # 30 rather than 30.0 in the inputs.
    initial = {name: f"{value:g}" if isinstance(value, float) else value for name, value in config.items()}
    return {"config": config, "form": form or SettingsForm(initial=initial)}
