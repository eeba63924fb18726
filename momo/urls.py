"""MoMo's paths, exactly as MTN serves them, at the server root.

Each pattern takes its path with or without a trailing slash, so CommonMiddleware never
redirects a MoMo call (a redirected POST loses its body); anything
else under `collection/` or `v1_0/` gets the gateway's JSON 404, not a Django page.
"""

from django.urls import re_path

from momo import views

SEGMENT = r"(?P<{}>[^/]+)"


def momo_path(pattern: str, view, name: str):
    return re_path(rf"^{pattern}/?$", view, name=name)


urlpatterns = [
    momo_path("v1_0/apiuser", views.api_user_create, "momo-apiuser"),
    momo_path(f"v1_0/apiuser/{SEGMENT.format('user_id')}/apikey", views.api_key_create, "momo-apikey"),
    momo_path(f"v1_0/apiuser/{SEGMENT.format('user_id')}", views.api_user_detail, "momo-apiuser-detail"),
    momo_path("collection/token", views.token, "momo-token"),
    momo_path("collection/v1_0/requesttopay", views.request_to_pay, "momo-requesttopay"),
    momo_path(
        f"collection/v1_0/requesttopay/{SEGMENT.format('reference')}/deliverynotification",
        views.delivery_notification, "momo-deliverynotification",
    ),
    momo_path(f"collection/v1_0/requesttopay/{SEGMENT.format('reference')}", views.request_to_pay_status, "momo-status"),
    momo_path("collection/v1_0/account/balance", views.balance, "momo-balance"),
    momo_path(f"collection/v1_0/account/balance/{SEGMENT.format('currency')}", views.balance, "momo-balance-currency"),
    momo_path(
        f"collection/v1_0/accountholder/msisdn/{SEGMENT.format('msisdn')}/basicuserinfo",
        views.basic_user_info, "momo-basicuserinfo",
    ),
    momo_path(
        f"collection/v1_0/accountholder/{SEGMENT.format('id_type')}/{SEGMENT.format('party_id')}/active",
        views.account_holder_active, "momo-accountholder-active",
    ),
    re_path(r"^(?:collection|v1_0)(?:/(?P<rest>.*))?$", views.unknown_route, name="momo-unknown"),
]
