"""Who owns which ledger account: the names the ledger's writes and reads share.

An account is named by (owner, kind, currency). Owners: "issuer" (one per currency: floats
and opening wallet balances come from it, so the ledger sums to zero), "house" (the
merchant the checkout form and the REST API sell for), "user:<API user id>" (a MoMo
client), "party:<party id>" (a payer's or payee's wallet).
"""

from decimal import Decimal
from typing import NamedTuple

from django.conf import settings

from payments.models import LedgerAccount, MomoApiUser, Payment

ISSUER = "issuer"
HOUSE = "house"
Kind = LedgerAccount.Kind
MERCHANT_KINDS = (Kind.COLLECTION, Kind.DISBURSEMENT, Kind.REMITTANCE)
PRODUCT_ACCOUNT = {  # the merchant account of each product
    Payment.Product.COLLECTION: Kind.COLLECTION,
    Payment.Product.DISBURSEMENT: Kind.DISBURSEMENT,
    Payment.Product.REMITTANCE: Kind.REMITTANCE,
}


class Key(NamedTuple):
    owner: str
    kind: str
    currency: str


def merchant_owner(momo_user_id: object) -> str:
    """The merchant a payment belongs to: its MoMo API user, else the house."""
    return f"user:{momo_user_id}" if momo_user_id else HOUSE


def party_owner(party_id: str) -> str:
    return f"party:{party_id}"


def wallet_key(party_id: str, currency: str) -> Key:
    return Key(party_owner(party_id), Kind.WALLET, currency)


def merchant_key(momo_user_id: object, kind: str, currency: str) -> Key:
    return Key(merchant_owner(momo_user_id), kind, currency)


def starting_balance(key: Key, momo_user: MomoApiUser | None = None) -> Decimal:
    """What an account holds when it opens: a wallet's start balance, a payout account's float."""
    if key.kind == Kind.WALLET:
        return settings.WALLET_START_BALANCE
    if key.kind in (Kind.DISBURSEMENT, Kind.REMITTANCE):
        if momo_user is not None and momo_user.starting_float is not None:
            return momo_user.starting_float
        return settings.MOMO_DEFAULT_FLOAT
    return Decimal("0.00")
