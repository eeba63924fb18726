"""Public MoMo client libraries, unmodified, drive their Disbursement calls against the live
demo: only their base URL (and the three values `momo_credentials` prints) change.

- `mtn-momo-client` (PyPI, `momo_api`): collection, then disbursement refund, deposit,
  transfer, their statuses, balance, account holder, and its error mapping of MTN's 500.
- `mtn-momo` (npm, Node): disbursement transfer, status (it throws on FAILED, by reason
  code), balance and account holder. Installed into a temporary folder from the npm
  registry; skipped when node or npm is missing, except under CI (CI=true), where it fails.
(`tests/processes/test_momo_client_library.py` drives momo-openapi's Disbursement and Remittance.)
"""

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.momo_client import SUBSCRIPTION_KEY
from tests.support import manage, wait_for

pytestmark = pytest.mark.slow

DISBURSEMENT_KEY = "d" * 32
STATUS_GAP = 0.15  # seconds between status calls: under MoMo's 10 per second


@pytest.fixture
def demo(start_demo):
    server = start_demo(0.5, "--success-rate", "1", MOMO_SUBSCRIPTION_KEY=SUBSCRIPTION_KEY, MOMO_DEFAULT_FLOAT="1000",
                        MOMO_DISBURSEMENT_SUBSCRIPTION_KEY=DISBURSEMENT_KEY)
    printed = manage("momo_credentials", "--callback-host", "127.0.0.1", env=server.env).stdout
    server.values = dict(re.findall(r"^(API user|API key|\w+ key)\b.*:\s+(\S+)$", printed, re.MULTILINE))
    return server


def test_it_serves_the_mtn_momo_client_disbursement_unmodified(demo):
    momo_api = pytest.importorskip("momo_api")
    values = demo.values

    def product(kind, key: str, callback: str = ""):
        config = momo_api.Config(subscription_key=key, api_user=values["API user"], api_key=values["API key"], callback_uri=callback)
        return kind(config, demo.base_url, "sandbox")

    collection = product(momo_api.CollectionApi, values["subscription key"])
    disbursement = product(momo_api.DisbursementApi, values["disbursement key"])

    def final(read, reference: str):
        status = read(reference)
        time.sleep(STATUS_GAP)
        return None if status.is_pending() else status

    paid = collection.request_to_pay(momo_api.PaymentRequest.make("100", "46733123499", "booking-42"))
    assert wait_for(lambda: final(collection.get_payment_status, paid), timeout=15, what="the payment").is_successful()

    refund = disbursement.refund(momo_api.RefundRequest.make("30", paid, "booking-42-refund"))
    too_much = disbursement.refund(momo_api.RefundRequest.make("80", paid, "booking-42-refund-2"))
    deposit = disbursement.deposit(momo_api.PaymentRequest.make("20", "46733123488", "deposit-1"))  # its party as `payer`
    expired = disbursement.transfer(momo_api.TransferRequest.make("5", "46733123452", "payout-1"))

    done = wait_for(lambda: final(disbursement.get_refund_status, refund), timeout=15, what="the refund")
    assert done.is_successful() and done.payee == "46733123499" and done.amount == "30"
    refused = wait_for(lambda: final(disbursement.get_refund_status, too_much), timeout=15, what="the second refund")
    assert refused.is_failed() and refused.reason.code == "NOT_ALLOWED"
    deposited = wait_for(lambda: final(disbursement.get_deposit_status, deposit), timeout=15, what="the deposit")
    assert deposited.is_successful() and deposited.payee == "46733123488"
    late = wait_for(lambda: final(disbursement.get_transfer_status, expired), timeout=15, what="the transfer")
    assert late.is_failed() and late.reason.code == "EXPIRED"

    balance = disbursement.get_balance()
    assert (balance.available_balance, balance.currency) == ("950", "EUR")  # 1000 - 30 - 20
    assert collection.get_balance().available_balance == "100"
    assert disbursement.check_account_holder("46733123499") is True

    # MTN's 500 for a callback host that does not match: its exception, its code, nothing made.
    wrong = product(momo_api.DisbursementApi, values["disbursement key"], callback="https://elsewhere.example/cb")
    with pytest.raises(momo_api.InternalServerErrorException) as refused_host:
        wrong.transfer(momo_api.TransferRequest.make("5", "46733123499", "payout-2"))
    assert refused_host.value.code == "INVALID_CALLBACK_URL_HOST"
    with pytest.raises(momo_api.ResourceNotFoundException):
        disbursement.get_transfer_status(refund)  # a refund is not a transfer


NODE_SCRIPT = r"""
const momo = require("mtn-momo");
const [baseUrl, primaryKey, userId, userSecret] = process.argv.slice(2);
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function settled(disbursements, reference) {
  for (let i = 0; i < 100; i++) {
    try {
      const transfer = await disbursements.getTransaction(reference);
      if (transfer.status !== "PENDING") return { status: transfer.status, payee: transfer.payee };
    } catch (error) {
      return { status: "FAILED", error: error.name, message: error.message };
    }
    await pause(150);
  }
  return { status: "TIMEOUT" };
}
(async () => {
  const { Disbursements } = momo.create({ callbackHost: "127.0.0.1", baseUrl, environment: "sandbox" });
  const disbursements = Disbursements({ primaryKey, userId, userSecret });
  const paid = await disbursements.transfer({ amount: "75", currency: "EUR", externalId: "node-1",
    payee: { partyIdType: "MSISDN", partyId: "46733123499" }, payerMessage: "Guide fee", payeeNote: "July" });
  const noFunds = await disbursements.transfer({ amount: "10", currency: "EUR", externalId: "node-2",
    payee: { partyIdType: "MSISDN", partyId: "46733123455" }, payerMessage: "x", payeeNote: "y" });
  const result = {
    paid: await settled(disbursements, paid),
    noFunds: await settled(disbursements, noFunds),
    balance: await disbursements.getBalance(),
    active: await disbursements.isPayerActive("46733123499"),
  };
  console.log(JSON.stringify(result));
})().catch((error) => { console.error(error); process.exit(1); });
"""


def node_client(tmp_path: Path) -> Path:
    """`mtn-momo` installed from the npm registry into a folder of this test's own."""
    if not (shutil.which("node") and shutil.which("npm")):
        if os.environ.get("CI") == "true":
            pytest.fail("node and npm are needed for the Node MoMo client test (apt-get install nodejs npm)")
        pytest.skip("node or npm is not installed: the Node MoMo client (npm mtn-momo) is not tried")
    folder = tmp_path / "node-client"
    folder.mkdir()
    (folder / "package.json").write_text('{"name": "livesettle-node-client-test", "private": true}')
    installed = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "mtn-momo@2.0.0"],
        cwd=folder, capture_output=True, text=True, timeout=300,
    )
    if installed.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"npm could not install mtn-momo: {installed.stderr[-500:]}")
        pytest.skip(f"npm could not install mtn-momo (is the npm registry reachable?): {installed.stderr[-200:]}")
    (folder / "drive.js").write_text(NODE_SCRIPT)
    return folder


def test_it_serves_the_node_mtn_momo_disbursements_unmodified(demo, tmp_path):
    folder = node_client(tmp_path)
    values = demo.values
    ran = subprocess.run(
        ["node", "drive.js", demo.base_url, values["disbursement key"], values["API user"], values["API key"]],
        cwd=folder, capture_output=True, text=True, timeout=120,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    result = json.loads(ran.stdout.strip().splitlines()[-1])
    assert result["paid"] == {"status": "SUCCESSFUL", "payee": {"partyIdType": "MSISDN", "partyId": "46733123499"}}
    # It throws its own error class for a FAILED transfer, picked by MoMo's reason code.
    assert result["noFunds"]["status"] == "FAILED" and result["noFunds"]["error"] == "NotEnoughFundsError"
    assert result["balance"] == {"availableBalance": "925", "currency": "EUR"}
    assert result["active"] is True
