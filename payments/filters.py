"""The dashboard's status and kind filters and search, applied alike to a query and to a pushed snapshot.

The page lists the latest rows matching the filter; the socket inserts a new row only if
it matches too, so a filtered dashboard stays filtered while it updates live.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q, QuerySet

from payments import validation
from payments.models import Payment

@dataclass(frozen=True)
class Filter:
    status: str = ""
    q: str = ""
    kind: str = ""

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "Filter":
        """Unknown statuses are ignored rather than refused: a filter is a view, not an input."""
        status = str(params.get("status", "") or "")
        if status not in Payment.Status.values:
            status = ""
        kind = str(params.get("kind", "") or "")
        if kind not in Payment.Kind.values:
            kind = ""
        # A NUL would make PostgreSQL refuse the query; control/bidi characters match nothing.
        q = validation.shown_text(str(params.get("q", "") or "")).replace("\ufffd", "").strip().lower()[:64]
        return cls(status=status, q=q, kind=kind)

    @property
    def _needle(self) -> str:
        # "+46…" finds the digits stored without the plus.
        return self.q.removeprefix("+")

    def apply(self, payments: QuerySet[Payment]) -> QuerySet[Payment]:
        if self.status:
            payments = payments.filter(status=self.status)
        if self.kind:
            payments = payments.filter(kind=self.kind)
        if self._needle:
            payments = payments.filter(
                Q(reference__icontains=self._needle) | Q(phone_number__contains=self._needle)
            )
        return payments

    def matches(self, snapshot: dict[str, Any]) -> bool:
        if self.status and snapshot["status"] != self.status:
            return False
        if self.kind and snapshot.get("kind", Payment.Kind.REQUEST_TO_PAY) != self.kind:
            return False
        needle = self._needle
        if not needle:
            return True
        reference = snapshot["reference"]
        return (
            needle in reference
            or needle.replace("-", "") in reference.replace("-", "")
            or needle in snapshot["phone_number"]
        )

    @property
    def active(self) -> bool:
        return bool(self.status or self.q or self.kind)

    def query_string(self) -> str:
        pairs = (("status", self.status), ("kind", self.kind), ("q", self.q))
        params = {name: value for name, value in pairs if value}
        return urlencode(params)
