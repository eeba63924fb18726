"""The ledger's invariants, checked on a live database (`manage.py ledger_check`, the tests).

Read only. Sums are added up here, in Decimal: SQLite's SUM of a decimal column is a
float, which would report rounding noise as a discrepancy.
"""

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Count, Min, Q

from payments.accounts import ISSUER
from payments.models import LedgerAccount, LedgerEntry, Payment

ZERO = Decimal("0")


def ledger_discrepancies() -> list[str]:
    """Every broken invariant, in words; [] when the ledger adds up."""
    return [
        *_balances_match_entries(),
        *_currencies_sum_to_zero(),
        *_no_negative_balance(),
        *_movements_balance(),
        *_payments_booked_once(),
        *_refunds_add_up(),
    ]


def _sums(pairs: Iterable[tuple[object, Decimal]]) -> dict[object, Decimal]:
    totals: dict[object, Decimal] = defaultdict(lambda: ZERO)
    for key, amount in pairs:
        totals[key] += amount
    return totals


def _entry_sums(group: str) -> dict[object, Decimal]:
    return _sums(LedgerEntry.objects.values_list(group, "amount").order_by().iterator(chunk_size=5000))


def _balances_match_entries() -> list[str]:
    totals = _entry_sums("account_id")
    rows = LedgerAccount.objects.values_list("pk", "owner", "kind", "currency", "balance")
    return [
        f"account {pk} ({owner} {kind} {currency}): balance {balance} but its entries sum to {totals.get(pk, ZERO)}"
        for pk, owner, kind, currency, balance in rows
        if balance != totals.get(pk, ZERO)
    ]


def _currencies_sum_to_zero() -> list[str]:
    entries = _entry_sums("account__currency")
    problems = [f"{currency}: the ledger sums to {total}, not 0" for currency, total in entries.items() if total]
    balances = _sums(LedgerAccount.objects.values_list("currency", "balance"))
    problems += [f"{currency}: the balances sum to {total}, not 0" for currency, total in balances.items() if total]
    return problems


def _no_negative_balance() -> list[str]:
    negative = LedgerAccount.objects.filter(balance__lt=0).exclude(kind=ISSUER)
    return [f"account {a.pk} ({a.owner} {a.kind} {a.currency}) is negative: {a.balance}" for a in negative]


def _movements_balance() -> list[str]:
    totals = _entry_sums("movement")
    counts = dict(LedgerEntry.objects.values_list("movement").annotate(n=Count("id")).order_by().filter(~Q(n=2)))
    problems = [f"movement {m}: entries sum to {total}" for m, total in totals.items() if total]
    return problems + [f"movement {m}: {n} entries, not 2" for m, n in counts.items()]


def _payments_booked_once() -> list[str]:
    booked = Payment.objects.annotate(n=Count("ledger_entries")).filter(n__gt=0)
    problems = [
        f"payment {p.reference} ({p.status}) has {p.n} ledger entries"
        for p in booked.filter(~Q(status=Payment.Status.SUCCESSFUL) | ~Q(n=2))
    ]
    # Successful simulator payments settled since the ledger began are each booked.
    began = LedgerEntry.objects.aggregate(first=Min("created_at"))["first"]
    if began is not None:
        missing = Payment.objects.filter(
            status=Payment.Status.SUCCESSFUL, provider=Payment.Provider.SIMULATOR, settled_at__gt=began,
        ).annotate(n=Count("ledger_entries")).filter(n=0)
        problems += [f"payment {p.reference} is successful but not booked" for p in missing[:100]]
    return problems


def _refunds_add_up() -> list[str]:
    successful = Payment.objects.filter(refund_of__isnull=False, status=Payment.Status.SUCCESSFUL)
    totals = _sums(successful.values_list("refund_of_id", "amount"))
    rows = Payment.objects.filter(Q(pk__in=list(totals)) | Q(refunded_amount__gt=0))
    problems = []
    for pk, reference, amount, recorded in rows.values_list("pk", "reference", "amount", "refunded_amount"):
        total = totals.get(pk, ZERO)
        if recorded != total or recorded > amount:
            problems.append(f"payment {reference}: refunded_amount {recorded}, refunds sum to {total}, amount {amount}")
    return problems
