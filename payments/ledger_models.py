"""The double-entry ledger's tables (payments/services/ledger.py writes them)."""

from django.db import models

from payments.models import MomoApiUser, Payment


class LedgerAccount(models.Model):
    """One balance of the double-entry ledger (payments/services/ledger.py writes it).

    `owner` names whose it is: "issuer" (the one account per currency that floats and wallet
    balances come from; the only one that goes below zero), "house" (the merchant the
    checkout form sells for), "user:<api user id>", or "party:<party id>" (a wallet).
    `balance` is kept by the transition that writes the entries and always equals their sum.
    """

    class Kind(models.TextChoices):
        ISSUER = "issuer", "Issuer"
        COLLECTION = "collection", "Collection"
        DISBURSEMENT = "disbursement", "Disbursement"
        REMITTANCE = "remittance", "Remittance"
        WALLET = "wallet", "Wallet"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    owner = models.CharField(max_length=160)
    currency = models.CharField(max_length=3)
    momo_user = models.ForeignKey(
        MomoApiUser, null=True, blank=True, related_name="ledger_accounts", on_delete=models.SET_NULL
    )
    balance = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "kind", "currency"], name="ledger_account_once"),
            models.CheckConstraint(
                condition=models.Q(balance__gte=0) | models.Q(kind="issuer"), name="ledger_balance_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.owner} {self.kind} {self.currency}: {self.balance}"


class LedgerEntry(models.Model):
    """One side of a money movement: the two entries of a movement share `movement` and sum
    to zero. A payment's entries are written by the transition that made it successful,
    at most one per account (a constraint), so a settlement is booked exactly once."""

    class Cause(models.TextChoices):
        PAYMENT = "payment", "Payment"
        OPENING = "opening", "Opening balance"
        OPERATOR = "operator", "Operator change"

    account = models.ForeignKey(LedgerAccount, related_name="entries", on_delete=models.PROTECT)
    movement = models.UUIDField(db_index=True)
    amount = models.DecimalField(max_digits=18, decimal_places=2)  # + credit, - debit
    cause = models.CharField(max_length=16, choices=Cause.choices)
    payment = models.ForeignKey(
        Payment, null=True, blank=True, related_name="ledger_entries", on_delete=models.SET_NULL
    )  # SET_NULL: deleting a payment leaves the ledger adding up
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.UniqueConstraint(
                fields=["payment", "account"], condition=models.Q(payment__isnull=False),
                name="ledger_entry_once_per_payment",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} on {self.account_id}"
