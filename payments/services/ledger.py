"""The double-entry ledger: every money movement is two entries that sum to zero.

Accounts (`LedgerAccount`): per currency, one issuer (floats and opening wallet balances
come from it, so the whole ledger sums to zero), each merchant's collection, disbursement
and remittance accounts (the house merchant's and each MoMo API user's; the last two open
with a float), and a wallet per party (opened at first sight with WALLET_START_BALANCE).

Payments are booked by `ledger_book`, which the one transition (`lifecycle._finalize`)
calls inside its transaction, after it has locked the payments it ends. Locks are taken in
one fixed order so that concurrent transitions queue instead of deadlocking: the payments
being ended, then refunded payments (by id), then issuers (by currency, only to open
accounts), then accounts (by id). A side that cannot pay turns the outcome into FAILED
with NOT_ENOUGH_FUNDS and moves nothing; a refund is checked against the refunded
payment under that payment's lock, so racing refunds never add up to more than it.
Payments an upstream MoMo decides are not booked: their money moves at the upstream.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from payments import events, generation, outcomes, validation
from payments.accounts import (
    ISSUER, MERCHANT_KINDS, Key, Kind, merchant_key, merchant_owner, starting_balance, wallet_key,
)
from payments.errors import InvalidValue
from payments.models import LedgerAccount, LedgerEntry, MomoApiUser, Payment, PaymentLog
from payments.selectors import account_snapshot

PAID_FROM = {  # the merchant account money out is paid from, by product
    Payment.Product.DISBURSEMENT: Kind.DISBURSEMENT,
    Payment.Product.REMITTANCE: Kind.REMITTANCE,
}
NOT_ENOUGH_FUNDS = "NOT_ENOUGH_FUNDS"
TRANSACTION_NOT_FOUND = "TRANSACTION_NOT_FOUND"
NOT_ALLOWED = "NOT_ALLOWED"


# --- opening accounts ----------------------------------------------------------------------


def _entry(account: LedgerAccount, amount: Decimal, movement: uuid.UUID, cause: str, now: datetime,
           payment: Payment | None = None) -> LedgerEntry:
    return LedgerEntry(account=account, amount=amount, movement=movement, cause=cause, payment=payment, created_at=now)


def _locked_issuer(currency: str) -> LedgerAccount:
    issuers = LedgerAccount.objects.select_for_update().filter(owner=ISSUER, kind=Kind.ISSUER, currency=currency)
    issuer = issuers.first()
    if issuer is None:
        try:
            with transaction.atomic():
                return LedgerAccount.objects.create(owner=ISSUER, kind=Kind.ISSUER, currency=currency)
        except IntegrityError:  # opened by a transaction that committed meanwhile
            issuer = issuers.get()
    return issuer


def issuer_move(*, issuer: LedgerAccount, account: LedgerAccount, amount: Decimal, cause: str, now: datetime) -> None:
    """Move `amount` from the (locked) issuer to `account` (negative: back): two entries."""
    if not amount:
        return
    movement = uuid.uuid4()
    LedgerEntry.objects.bulk_create([
        _entry(issuer, -amount, movement, cause, now), _entry(account, amount, movement, cause, now),
    ])
    for row, delta in ((issuer, -amount), (account, amount)):
        # Both rows are locked and read in this transaction: an absolute value (SQLite
        # would add in floating point).
        row.balance += delta
        LedgerAccount.objects.filter(pk=row.pk).update(balance=row.balance, updated_at=now)


def accounts_open(keys: set[Key], *, now: datetime, users: dict[str, MomoApiUser] | None = None) -> None:
    """Open the accounts of `keys` that do not exist yet, each with its starting balance.

    Every opening locks its currency's issuer first (currencies in order), so two
    transactions opening the same account queue on the issuer: the second finds it open.
    """
    _open_missing(sorted(set(keys) - set(_existing(keys))), now=now, users=users)


def _open_missing(missing: list[Key], *, now: datetime, users: dict[str, MomoApiUser] | None = None) -> None:
    if not missing:
        return
    users = users if users is not None else _users_of(missing)
    for currency in sorted({key.currency for key in missing}):
        issuer = _locked_issuer(currency)
        for key in (k for k in missing if k.currency == currency):
            _open_one(key, issuer, users.get(key.owner), now)


def wallet_open(key: Key, *, now: datetime) -> None:
    """A new payment's party wallet, opened at first sight (`accounts_open`) so its page shows
    the balance at once; no query while this process knows it is open (payments.generation:
    up to MAX_AGE, and a demo reset's new generation retires it at this process's next MoMo
    call). A server can believe a removed wallet open only for a payment racing a reset, or
    within MAX_AGE of a reset whose new generation Redis lost: that wallet then opens when a
    payment of its party is booked (`ledger_book` opens every account it moves) or at the
    party's next payment after MAX_AGE; until then its phone page shows no wallet."""
    fact = ("wallet open", key)
    if generation.known(fact):
        return
    at = generation.current()  # before the read: a reset after it retires what we remember
    if key not in _existing({key}):
        _open_missing([key], now=now)
    generation.remember_on_commit(fact, at=at)  # open once this commits, by us or by whoever took the issuer first


def _existing(keys: set[Key]) -> list[Key]:
    if not keys:
        return []
    rows = LedgerAccount.objects.filter(owner__in={k.owner for k in keys}, currency__in={k.currency for k in keys})
    return [Key(*row) for row in rows.values_list("owner", "kind", "currency")]


def _users_of(keys: list[Key]) -> dict[str, MomoApiUser]:
    ids = {key.owner.removeprefix("user:") for key in keys if key.owner.startswith("user:")}
    return {merchant_owner(user.pk): user for user in MomoApiUser.objects.filter(pk__in=ids)}


def _open_one(key: Key, issuer: LedgerAccount, momo_user: MomoApiUser | None, now: datetime) -> None:
    try:
        with transaction.atomic():
            account = LedgerAccount.objects.create(
                owner=key.owner, kind=key.kind, currency=key.currency, momo_user=momo_user
            )
    except IntegrityError:
        return  # opened (and funded) by a transaction that committed before we took the issuer
    issuer_move(issuer=issuer, account=account, amount=starting_balance(key, momo_user),
                cause=LedgerEntry.Cause.OPENING, now=now)


def merchant_accounts_open(*, momo_user: MomoApiUser | None, currency: str, now: datetime) -> None:
    """A merchant's collection, disbursement and remittance accounts in `currency`."""
    owner = merchant_owner(momo_user.pk if momo_user else None)
    keys = {Key(owner, kind, currency) for kind in (Kind.COLLECTION, Kind.DISBURSEMENT, Kind.REMITTANCE)}
    accounts_open(keys, now=now, users={owner: momo_user} if momo_user else {})


# --- booking payments ----------------------------------------------------------------------


@dataclass
class Booked:
    """What `ledger_book` did: the outcomes it changed, the accounts and refunded payments it moved."""

    decisions: dict[int, outcomes.Outcome]
    accounts: list[LedgerAccount] = field(default_factory=list)
    refunded: list[Payment] = field(default_factory=list)


def legs(payment: Payment, original: Payment | None = None) -> tuple[Key, Key]:
    """(the account paid from, the account paid to) of a payment's money movement."""
    currency = payment.currency
    if payment.direction == Payment.Direction.IN:
        return wallet_key(payment.phone_number, currency), merchant_key(payment.momo_user_id, Kind.COLLECTION, currency)
    source = merchant_key(payment.momo_user_id, PAID_FROM[payment.product], currency)
    payee = original.phone_number if original is not None else payment.phone_number
    return source, wallet_key(payee, currency)


def refund_refusal(refund: Payment, original: Payment | None) -> str:
    """Why a refund may not be paid ("" if it may): MoMo's reason code."""
    if original is None or original.momo_user_id != refund.momo_user_id:
        return TRANSACTION_NOT_FOUND  # an unknown reference, or another API user's payment
    if original.kind != Payment.Kind.REQUEST_TO_PAY or original.status != Payment.Status.SUCCESSFUL:
        return NOT_ALLOWED
    if original.currency != refund.currency or original.refunded_amount + refund.amount > original.amount:
        return NOT_ALLOWED
    return ""


def _lock_originals(payments: list[Payment]) -> dict[int, Payment]:
    ids = sorted({p.refund_of_id for p in payments if p.refund_of_id})
    if not ids:
        return {}
    rows = Payment.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    return {row.pk: row for row in rows}


def _lock_accounts(keys: set[Key]) -> dict[Key, LedgerAccount]:
    rows = LedgerAccount.objects.select_for_update().filter(
        owner__in={k.owner for k in keys}, currency__in={k.currency for k in keys}
    ).order_by("pk")
    return {Key(row.owner, row.kind, row.currency): row for row in rows}


def ledger_book(payments: list[Payment], decisions: dict[int, outcomes.Outcome], *, now: datetime) -> Booked:
    """Book the successful simulator payments among `payments` (locked by the caller), in
    order; one that cannot be paid is FAILED instead (the returned decisions say so).
    A successful upstream refund moves no money here, but counts on its refunded payment."""
    booked = Booked(decisions=dict(decisions))
    successful = [p for p in payments if decisions[p.pk].status == Payment.Status.SUCCESSFUL]
    due = [p for p in successful if p.provider == Payment.Provider.SIMULATOR]
    upstream_refunds = [p for p in successful if p.provider != Payment.Provider.SIMULATOR and p.refund_of_id]
    if not due and not upstream_refunds:
        return booked
    originals = _lock_originals(due + upstream_refunds)
    touched = {p.refund_of_id for p in upstream_refunds if p.refund_of_id in originals}
    for refund in (p for p in upstream_refunds if p.refund_of_id in originals):
        original = originals[refund.refund_of_id]
        original.refunded_amount = min(original.amount, original.refunded_amount + refund.amount)
    plan = {p.pk: legs(p, originals.get(p.refund_of_id)) for p in due}
    keys = {key for pair in plan.values() for key in pair}
    # A merchant's three accounts open together, so its balances show side by side.
    accounts_open(keys | {Key(k.owner, kind, k.currency) for k in keys if k.kind in MERCHANT_KINDS
                          for kind in MERCHANT_KINDS}, now=now)
    accounts = _lock_accounts(keys) if keys else {}
    entries: list[LedgerEntry] = []
    moved: dict[int, LedgerAccount] = {}
    for payment in due:
        refusal = _refusal(payment, originals, accounts[plan[payment.pk][0]])
        if refusal:
            booked.decisions[payment.pk] = outcomes.Outcome(Payment.Status.FAILED, refusal)
            continue
        source, target = (accounts[key] for key in plan[payment.pk])
        entries += _pay(payment, source, target, now)
        moved.update({source.pk: source, target.pk: target})
        if payment.kind == Payment.Kind.REFUND:
            originals[payment.refund_of_id].refunded_amount += payment.amount
            touched.add(payment.refund_of_id)
    _write(booked, entries, moved, {pk: originals[pk] for pk in touched}, now)
    return booked


def _refusal(payment: Payment, originals: dict[int, Payment], source: LedgerAccount) -> str:
    if payment.kind == Payment.Kind.REFUND:
        refusal = refund_refusal(payment, originals.get(payment.refund_of_id))
        if refusal:
            return refusal
    return NOT_ENOUGH_FUNDS if source.balance < payment.amount else ""


def _pay(payment: Payment, source: LedgerAccount, target: LedgerAccount, now: datetime) -> list[LedgerEntry]:
    source.balance -= payment.amount
    target.balance += payment.amount
    movement = uuid.uuid4()
    cause = LedgerEntry.Cause.PAYMENT
    return [
        _entry(source, -payment.amount, movement, cause, now, payment),
        _entry(target, payment.amount, movement, cause, now, payment),
    ]


def _save_balances(accounts: list[LedgerAccount]) -> None:
    """One statement, many rows (the rows are locked and their balances computed here):
    bulk_update's CASE per row cost more than the rest of the booking."""
    table = LedgerAccount._meta.db_table
    field = LedgerAccount._meta.get_field("updated_at")
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET balance = %s, updated_at = %s WHERE id = %s",
            [(a.balance, field.get_db_prep_value(a.updated_at, connection), a.pk) for a in accounts],
        )


def _write(booked: Booked, entries: list[LedgerEntry], moved: dict[int, LedgerAccount],
           refunded: dict[int, Payment], now: datetime) -> None:
    if entries:
        LedgerEntry.objects.bulk_create(entries)
        accounts = sorted(moved.values(), key=lambda a: a.pk)
        for account in accounts:
            account.updated_at = now
        _save_balances(accounts)
        booked.accounts = accounts
    for pk in sorted(refunded):
        # A new version, so its pages (checkout: "Refunded") take the change.
        Payment.objects.filter(pk=pk).update(
            refunded_amount=refunded[pk].refunded_amount, version=F("version") + 1, updated_at=now
        )
    booked.refunded = list(Payment.objects.filter(pk__in=refunded)) if refunded else []


# --- an operator's changes -----------------------------------------------------------------

MAX_BALANCE = Decimal("999999999999.99")


def check_money(value: object, *, field: str = "amount", allow_zero: bool = True) -> Decimal:
    """An amount of money: a Decimal (or its text) >= 0 (> 0 without `allow_zero`), 2 decimals."""
    try:
        amount = Decimal(str(value).strip()) if isinstance(value, (str, int, Decimal)) else None
    except ArithmeticError:
        amount = None
    low = "0 or more" if allow_zero else "more than 0"
    message = f"An amount is {low}, with at most 2 decimals, e.g. 100.00."
    if amount is None or isinstance(value, bool) or not amount.is_finite():
        raise InvalidValue(field, message)
    if amount < 0 or (amount == 0 and not allow_zero) or amount.as_tuple().exponent < -2 or amount > MAX_BALANCE:
        raise InvalidValue(field, message, low=0, high=float(MAX_BALANCE))
    return amount.quantize(Decimal("0.01"))


def _operator_change(key: Key, *, momo_user: MomoApiUser | None, actor: str,
                     new_balance: Callable[[Decimal], Decimal]) -> LedgerAccount:
    """Set an account to `new_balance(old)`: the difference moves from (or back to) the issuer."""
    now = timezone.now()
    with transaction.atomic():
        accounts_open({key}, now=now, users={key.owner: momo_user} if momo_user else {})
        issuer = _locked_issuer(key.currency)  # the issuer first, as every opening takes it
        account = LedgerAccount.objects.select_for_update().get(owner=key.owner, kind=key.kind, currency=key.currency)
        old = account.balance
        balance = new_balance(old)
        issuer_move(issuer=issuer, account=account, amount=balance - old, cause=LedgerEntry.Cause.OPERATOR, now=now)
        PaymentLog.objects.create(
            event=PaymentLog.Event.LEDGER, actor=actor,
            details={"account": key.owner, "kind": key.kind, "currency": key.currency,
                     "from": f"{old:.2f}", "to": f"{balance:.2f}"},
        )
        events.send_event_on_commit(events.balances_changed([account_snapshot(account)]))
    return account


def _payout_key(momo_user: MomoApiUser | None, product: str, currency: str) -> Key:
    if product not in PAID_FROM:
        raise InvalidValue("product", "A float is a disbursement or remittance account.")
    return merchant_key(momo_user.pk if momo_user else None, PAID_FROM[product], _currency(currency))


def _currency(currency: object) -> str:
    if currency not in settings.PAYMENT_CURRENCIES:
        raise InvalidValue("currency", f"Currency must be one of {', '.join(settings.PAYMENT_CURRENCIES)}.")
    return str(currency)


def float_top_up(*, momo_user: MomoApiUser | None, product: str, currency: str, amount: object, actor: str) -> LedgerAccount:
    """Add `amount` to a merchant's disbursement or remittance float (None: the house's)."""
    added = check_money(amount, allow_zero=False)
    key = _payout_key(momo_user, product, currency)

    def topped_up(old: Decimal) -> Decimal:
        if old + added > MAX_BALANCE:
            raise InvalidValue("amount", "That would make the float too large.")
        return old + added

    return _operator_change(key, momo_user=momo_user, actor=actor, new_balance=topped_up)


def float_set(*, momo_user: MomoApiUser | None, product: str, currency: str, balance: object, actor: str) -> LedgerAccount:
    """Set a merchant's disbursement or remittance float to `balance`."""
    value = check_money(balance, field="balance")
    key = _payout_key(momo_user, product, currency)
    return _operator_change(key, momo_user=momo_user, actor=actor, new_balance=lambda old: value)


def wallet_set_balance(*, party_id: str, currency: str, balance: object, actor: str) -> LedgerAccount:
    """Set a party's wallet in `currency` to `balance` (opening it if it is new)."""
    value = check_money(balance, field="balance")
    if not isinstance(party_id, str) or not 1 <= len(party_id) <= 128 or validation.text_problem(party_id):
        raise InvalidValue("party_id", "A party id is 1 to 128 plain characters, e.g. 46733123499.")
    key = wallet_key(party_id, _currency(currency))
    return _operator_change(key, momo_user=None, actor=actor, new_balance=lambda old: value)

