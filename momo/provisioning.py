"""Sandbox provisioning (`/v1_0/apiuser`): what MTN's sandbox CLI calls, with any product's key."""

from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, JsonResponse

from momo import auth, parsing
from momo.common import check_create_limit, momo_view
from momo.errors import MomoError, already_exists, not_found
from momo.serializers import api_user_json
from payments import services
from payments.models import MomoApiUser
from payments.selectors import momo_user


def _existing_user(user_id: str) -> MomoApiUser:
    parsed = auth.parse_user_id(user_id)
    user = momo_user(parsed) if parsed else None
    if user is None:
        raise not_found("API user not found.")
    return user


@momo_view("POST", bearer=False)
def api_user_create(request: HttpRequest, product: None) -> HttpResponse:
    check_create_limit(request)
    user_id = parsing.reference_id(request.headers.get("X-Reference-Id"))
    body = parsing.json_body(request, required=True)
    host = parsing.callback_host(body.get("providerCallbackHost") if isinstance(body, dict) else None)
    try:
        services.momo_user_create(
            user_id=user_id, provider_callback_host=host, actor="momo:provisioning",
            subscription_key=auth.subscription_key(request),
        )
    except IntegrityError:
        if MomoApiUser.objects.filter(id=user_id).exists():
            raise already_exists("An API user with this X-Reference-Id already exists.") from None
        raise
    return HttpResponse(status=201)


@momo_view("POST", bearer=False)
def api_key_create(request: HttpRequest, product: None, user_id: str) -> HttpResponse:
    user = _existing_user(user_id)
    try:
        api_key = services.momo_user_new_key(
            user=user, actor="momo:provisioning", subscription_key=auth.subscription_key(request)
        )
    except services.NotKeyOwner as exc:
        raise MomoError(403, "NOT_ALLOWED", f"Not allowed: {exc}.") from None
    return JsonResponse({"apiKey": api_key}, status=201)


@momo_view("GET", bearer=False)
def api_user_detail(request: HttpRequest, product: None, user_id: str) -> HttpResponse:
    return JsonResponse(api_user_json(_existing_user(user_id)))
