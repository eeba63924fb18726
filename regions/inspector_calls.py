"""The inspector page's call rows (`#call-<id>`), newest on top, pushed in `calls.recorded`
messages (payments/events.py); and the page's filter, applied to a call's snapshot the same
way on the page (inspector/selectors.py) and on the socket (consumers/inspector.py)."""

import re
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlencode

from django.template.loader import render_to_string

PARTIAL = "dashboard/inspector.html#call"
INSERT = "dashboard/inspector.html#call_insert"  # a socket frame: rows on top of the list
ROWS = 100  # rows on the page; static/js/inspector.js trims the oldest
PRODUCTS = ("collection", "disbursement", "remittance", "provisioning")
OUTCOMES = ("2xx", "4xx", "5xx", "none")
DIRECTIONS = ("in", "callback", "upstream")
_TOKEN = re.compile(r"[A-Za-z0-9-]{1,64}")


@dataclass(frozen=True)
class CallFilter:
    api_user: str = ""
    product: str = ""
    outcome: str = ""
    reference: str = ""
    direction: str = ""

    @classmethod
    def from_params(cls, params: Any) -> "CallFilter":
        """Unknown or malformed values are ignored (a filter never errors)."""

        def token(name: str) -> str:
            value = str(params.get(name) or "").strip().lower()
            return value if _TOKEN.fullmatch(value) else ""

        return cls(
            api_user=token("api_user"),
            product=token("product") if token("product") in PRODUCTS else "",
            outcome=token("outcome") if token("outcome") in OUTCOMES else "",
            reference=token("reference"),
            direction=token("direction") if token("direction") in DIRECTIONS else "",
        )

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))

    def query_string(self) -> str:
        return urlencode({f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)})

    def matches(self, call: dict[str, Any]) -> bool:
        return (
            (not self.api_user or call["api_user"] == self.api_user)
            and (not self.product or call["product"] == self.product)
            and (not self.outcome or call["outcome"] == self.outcome)
            and (not self.reference or call["reference"].lower() == self.reference)
            and (not self.direction or call["direction"] == self.direction)
        )


def context(call: dict[str, Any]) -> dict[str, Any]:
    return {"c": call, "refused": call["outcome"] != "2xx"}


def render(call: dict[str, Any]) -> str:
    return render_to_string(PARTIAL, context(call))


def render_inserted(calls: list[dict[str, Any]]) -> str:
    """One frame: `calls` (oldest first) on top of the list, the newest highest."""
    return render_to_string(INSERT, {"rows": [render(call) for call in reversed(calls)]})
