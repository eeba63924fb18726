"""The dashboard's balances panel (`#balances-panel`): each merchant's collection,
disbursement and remittance accounts per currency, one cell per account
(`#bal-<owner>-<kind>-<currency>`), pushed cell by cell as the ledger moves them."""

from typing import Any

from django.template.loader import render_to_string

from payments.accounts import HOUSE, MERCHANT_KINDS
from payments.selectors import merchant_accounts

PARTIAL = "dashboard/dashboard.html#balances"
CELL = "dashboard/dashboard.html#balance_cell"


def cell_id(owner: str, kind: str, currency: str) -> str:
    """From server-side names only: "house" or "user:<uuid>", a kind, a currency code."""
    return f"bal-{owner.replace(':', '-')}-{kind}-{currency}"


read = merchant_accounts  # the accounts shown, as `account_snapshot`s


def table(accounts: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Grouped for the panel: [{owner, label, rows: [{currency, cells}]}], the house first."""
    by_owner: dict[str, dict[str, dict[str, str]]] = {}
    for account in accounts:
        by_owner.setdefault(account["owner"], {}).setdefault(account["currency"], {})[account["kind"]] = account["balance"]
    return [
        {"owner": owner, "label": "House (checkout)" if owner == HOUSE else owner.removeprefix("user:")[:8],
         "rows": [{"currency": currency, "cells": [_cell(owner, kind, currency, kinds.get(kind, "")) for kind in MERCHANT_KINDS]}
                  for currency, kinds in sorted(currencies.items())]}
        for owner, currencies in by_owner.items()
    ]


def _cell(owner: str, kind: str, currency: str, balance: str) -> dict[str, str]:
    return {"id": cell_id(owner, kind, currency), "balance": balance, "kind": kind}


def render(accounts: list[dict[str, str]], *, oob: bool = False) -> str:
    return render_to_string(PARTIAL, {"merchants": table(accounts), "oob": oob})


def cells(accounts: list[dict[str, str]]) -> str:
    """The cells of accounts that moved (`account_snapshot`s), as out-of-band swaps by id."""
    return "".join(
        render_to_string(CELL, {"c": _cell(a["owner"], a["kind"], a["currency"], a["balance"]), "oob": True})
        for a in accounts
    )
