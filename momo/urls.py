"""MoMo's paths, exactly as MTN serves them, at the server root: provisioning, then each
product (Collections, Disbursements, Remittances) under its own prefix.

Each pattern takes its path with or without a trailing slash, so CommonMiddleware never
redirects a MoMo call (a redirected POST loses its body). Every product path passes its
product to the view (`product`), which decides the subscription keys and the token it
takes. Anything else under a product prefix, `v1_0/` or `v2_0/` is the gateway's JSON
404 (before Django's technical 404 page can answer, DEBUG or not).
"""

import re

from django.urls import re_path

from momo import collection, common, disbursement, provisioning, remittance
from momo.common import REFERENCE, SEGMENT

# MTN's gateway prefixes: everything under them is MoMo's, answered here (the catch-all
# below) and served by a leaner middleware chain (dashboard/handler.py).
PREFIXES = ("collection", "disbursement", "remittance", "v1_0", "v2_0")
PREFIX = re.compile(rf"^/(?:{'|'.join(PREFIXES)})(?:/|$)")


def momo_path(pattern: str, view, name: str, product: str | None = None):
    return re_path(rf"^{pattern}/?$", view, {"product": product} if product else {}, name=name)


def product_paths(product: str, routes: list[tuple[str, object, str]]) -> list:
    """The product's own routes plus what every product serves under its prefix."""
    shared = [
        ("token", common.token, "token"),
        ("v1_0/account/balance", common.balance, "balance"),
        (f"v1_0/account/balance/{SEGMENT.format('currency')}", common.balance, "balance-currency"),
        (f"v1_0/accountholder/msisdn/{SEGMENT.format('msisdn')}/basicuserinfo", common.basic_user_info, "basicuserinfo"),
        (f"v1_0/accountholder/{SEGMENT.format('id_type')}/{SEGMENT.format('party_id')}/active",
         common.account_holder_active, "accountholder-active"),
        (f"v1_0/requesttopay/{REFERENCE}/deliverynotification", common.delivery_notification, "deliverynotification"),
    ]
    return [
        # Named by operation only (the inspector reads the product from the path).
        momo_path(f"{product}/{pattern}", view, f"momo-{name}", product)
        for pattern, view, name in [*shared, *routes]
    ]


urlpatterns = [
    momo_path("v1_0/apiuser", provisioning.api_user_create, "momo-apiuser"),
    momo_path(f"v1_0/apiuser/{SEGMENT.format('user_id')}/apikey", provisioning.api_key_create, "momo-apikey"),
    momo_path(f"v1_0/apiuser/{SEGMENT.format('user_id')}", provisioning.api_user_detail, "momo-apiuser-detail"),
    *product_paths("collection", collection.ROUTES),
    *product_paths("disbursement", disbursement.ROUTES),
    *product_paths("remittance", remittance.ROUTES),
    re_path(rf"^(?:{'|'.join(PREFIXES)})(?:/(?P<rest>.*))?$", common.unknown_route, name="momo-unknown"),
]
