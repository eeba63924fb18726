"""MoMo's three products side by side: each product's token and subscription keys are good on
its own paths only, every path answers under its product's prefix, and anything unknown
under any prefix is the gateway's JSON 404, DEBUG or not."""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from payments import services
from tests.support.momo_client import PRODUCT_KEYS, SUBSCRIPTION_KEY, DjangoMomoClient, basic

pytestmark = pytest.mark.django_db

PRODUCTS = ("collection", "disbursement", "remittance")
SUBSCRIPTION_INVALID = "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription."


@pytest.fixture(autouse=True)
def _momo_settings(settings):
    settings.MOMO_SUBSCRIPTION_KEYS = [SUBSCRIPTION_KEY]
    settings.MOMO_PRODUCT_SUBSCRIPTION_KEYS = PRODUCT_KEYS
    settings.MOMO_ENVIRONMENTS = {"sandbox": "EUR", "mtnuganda": "UGX"}


def new_client(key: str = SUBSCRIPTION_KEY) -> DjangoMomoClient:
    return DjangoMomoClient(Client(enforce_csrf_checks=True), key)


@pytest.fixture
def merchant() -> DjangoMomoClient:
    return new_client().provision("merchant.example")


def active(client: DjangoMomoClient, product: str):
    return client.call("GET", f"/{product}/v1_0/accountholder/msisdn/46733123499/active")


@pytest.mark.parametrize("product", PRODUCTS)
@pytest.mark.parametrize("body", [None, b"", b"{}", b"null", b'{"grant_type":"client_credentials"}'])
def test_it_issues_each_products_token_whatever_body_a_client_sends(merchant, product, body):
    answer = merchant.call("POST", f"/{product}/token/", raw=body, Authorization=basic(merchant.user_id, merchant.api_key))
    assert answer.status == 200, answer.body
    assert answer.json()["token_type"] == "access_token" and answer.json()["expires_in"] == 3600
    merchant.token = answer.json()["access_token"]
    assert active(merchant, product).json() == {"result": True}


@pytest.mark.parametrize("issuer", PRODUCTS)
def test_it_takes_a_token_only_on_the_product_that_issued_it(merchant, issuer):
    merchant.get_token(issuer)
    for product in PRODUCTS:
        answer = active(merchant, product)
        if product == issuer:
            assert answer.status == 200, answer.body
        else:
            assert answer.status == 401 and answer.json()["code"] == "UNAUTHORIZED"
            assert f"POST /{product}/token/" in answer.json()["message"]


def test_it_refuses_bad_credentials_on_every_token_path(merchant):
    for product in PRODUCTS:
        answer = merchant.call("POST", f"/{product}/token/", raw=b"", Authorization=basic(merchant.user_id, "0" * 32))
        assert answer.status == 401 and answer.json() == {"error": "invalid_client"}


def test_it_takes_the_shared_key_on_every_product(merchant):
    for product in PRODUCTS:
        merchant.get_token(product)
        assert active(merchant, product).status == 200


@pytest.mark.parametrize("owner", PRODUCTS)
def test_it_takes_a_products_own_key_on_that_product_only(merchant, owner):
    client = new_client(PRODUCT_KEYS[owner][0])
    client.user_id, client.api_key = merchant.user_id, merchant.api_key
    client.get_token(owner)
    assert active(client, owner).status == 200
    for product in PRODUCTS:
        if product == owner:
            continue
        refused = client.call("POST", f"/{product}/token/", raw=b"", Authorization=basic(client.user_id, client.api_key))
        assert refused.status == 401 and refused.json() == {"statusCode": 401, "message": SUBSCRIPTION_INVALID}
        assert active(client, product).json() == {"statusCode": 401, "message": SUBSCRIPTION_INVALID}


def test_it_provisions_with_any_products_key():
    for product in PRODUCTS:
        client = new_client(PRODUCT_KEYS[product][0]).provision(f"{product}.example")
        client.get_token(product)
        assert active(client, product).status == 200


PATHS = [
    ("POST", "/collection/token/"),
    ("GET", "/collection/v1_0/account/balance"),
    ("GET", "/collection/v1_0/account/balance/EUR"),
    ("GET", "/collection/v1_0/accountholder/msisdn/46733123499/active"),
    ("GET", "/collection/v1_0/accountholder/msisdn/46733123499/basicuserinfo"),
    *[(method, f"/{product}/{path}") for product in ("disbursement", "remittance") for method, path in [
        ("POST", "token/"),
        ("GET", "v1_0/account/balance"),
        ("GET", "v1_0/account/balance/EUR"),
        ("GET", "v1_0/accountholder/MSISDN/46733123499/active"),
        ("GET", "v1_0/accountholder/msisdn/46733123499/basicuserinfo"),
    ]],
]


@pytest.mark.parametrize(("method", "path"), PATHS)
def test_it_serves_each_products_paths_with_and_without_the_slash(merchant, method, path):
    product = path.split("/")[1]
    merchant.get_token(product)
    headers = {"Authorization": basic(merchant.user_id, merchant.api_key)} if path.endswith("token/") else {}
    for variant in (path, path.rstrip("/") if path.endswith("/") else path + "/"):
        answer = merchant.call(method, variant, raw=b"", **headers)
        assert answer.status == 200, (variant, answer.body)
        assert answer.headers["Content-Type"] == "application/json"


UNKNOWN = [
    "/collection/v1_0/preapproval", "/collection/v2_0/payment", "/collection", "/collection/",
    "/disbursement/v1_0/nothing", "/disbursement/v3_0/transfer", "/disbursement",
    "/remittance/v1_0/cashtransfer", "/remittance/v2_0/nothing/at/all", "/remittance",
    "/v1_0/unknown", "/v2_0/apiuser",
]


@pytest.mark.parametrize("path", UNKNOWN)
@pytest.mark.parametrize("method", ["GET", "POST", "PUT"])
def test_it_answers_an_unknown_path_under_any_prefix_with_momos_json_404_with_debug_on(merchant, settings, path, method):
    settings.DEBUG = True
    answer = merchant.call(method, path, raw=b"{}")
    assert answer.status == 404 and answer.json() == {"statusCode": 404, "message": "Resource not found"}
    assert answer.headers["Content-Type"] == "application/json"


def test_it_generates_each_products_key_once_and_prints_them(settings, tmp_path):
    settings.BASE_DIR = tmp_path
    settings.MOMO_SUBSCRIPTION_KEYS = []
    settings.MOMO_PRODUCT_SUBSCRIPTION_KEYS = {product: [] for product in PRODUCTS}
    out = StringIO()
    call_command("momo_credentials", "--callback-host", "shop.example", stdout=out)
    printed = dict(re.findall(r"^(\w+) key \(\w+ paths only\):\s+(\S+)$", out.getvalue(), re.MULTILINE))
    assert set(printed) == set(PRODUCTS) and len(set(printed.values())) == 3
    for product in PRODUCTS:
        assert re.fullmatch(r"[0-9a-f]{32}", printed[product])
        assert services.momo_product_subscription_keys(product) == [printed[product]]  # kept, not drawn again
        assert (tmp_path / f".momo-{product}-subscription-key").stat().st_mode & 0o777 == 0o600
    user, api_key = re.findall(r"^API (?:user|key)\b.*:\s+(\S+)$", out.getvalue(), re.MULTILINE)
    client = new_client(printed["disbursement"])
    client.user_id, client.api_key = user, api_key
    client.get_token("disbursement")
    assert active(client, "disbursement").status == 200
    assert active(client, "collection").status == 401


def momo_routes() -> set[str]:
    """Every MoMo path the URLconf serves, in OpenAPI's spelling."""
    from momo.urls import urlpatterns

    names = {"reference": "referenceId", "user_id": "referenceId", "currency": "currency", "id_type": "accountHolderIdType",
             "party_id": "accountHolderId", "msisdn": "accountHolderMSISDN"}
    paths = set()
    for pattern in urlpatterns:
        if pattern.name == "momo-unknown":
            continue
        path = re.sub(r"\(\?P<(\w+)>\[\^/\]\+\)", lambda m: "{" + names[m.group(1)] + "}", pattern.pattern.regex.pattern)
        path = "/" + path.removeprefix("^").removesuffix("/?$").removesuffix("/?\\Z")
        paths.add(path + "/" if path.endswith("/token") else path)
    return paths


def test_it_documents_every_momo_path_under_its_products_tag():
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    tags = {"collection": "MoMo Collections", "disbursement": "MoMo Disbursements", "remittance": "MoMo Remittances", "v1_0": "MoMo Collections"}
    documented = {
        path: {tag for op in ops.values() for tag in op.get("tags", [])}
        for path, ops in schema["paths"].items() if path.split("/")[1] in tags
    }
    assert set(documented) == momo_routes()
    for path, found in documented.items():
        assert found == {tags[path.split("/")[1]]}, path
