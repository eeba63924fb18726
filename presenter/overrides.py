"""A scenario's live settings hold while it plays, and only then.

A scenario sets live settings (approval mode, timeout, success rate, pause, ...) at t=0
and in its timeline. When it ends, is stopped or the demo is reset, each setting goes back
to what was in force before it: a rehearsal never leaves the room's phone mode or the
presenter's timeout changed. A setting the operator changed meanwhile (it no longer holds
the scenario's value) stays as the operator set it.
"""

from typing import Any

from payments import services
from payments.selectors import simulator_settings


class SettingsOverride:
    def __init__(self, actor: str) -> None:
        self.actor = actor
        self.before: dict[str, Any] = {}  # setting -> its value before the scenario's first change
        self.applied: dict[str, Any] = {}  # setting -> the value the scenario set last

    def apply(self, changes: dict[str, Any]) -> None:
        current = simulator_settings()
        for name in changes:
            self.before.setdefault(name, getattr(current, name))
        config = services.settings_update(actor=self.actor, **changes)
        self.applied.update({name: getattr(config, name) for name in changes})

    def restore(self) -> dict[str, Any]:
        """Put back what the scenario changed (once); what was put back, by setting."""
        if not self.before:
            return {}
        current = simulator_settings()
        back = {name: value for name, value in self.before.items() if getattr(current, name) == self.applied.get(name)}
        self.before, self.applied = {}, {}
        if back:
            services.settings_update(actor=self.actor, **back)
        return back
