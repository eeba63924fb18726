"""The upstream's callback to LiveSettle (`PAYMENT_PROVIDER=momo`): MOMO_CALLBACK_BASE +
/provider/momo/callback/<reference>/<token>/, the URL sent as X-Callback-Url.

MoMo signs nothing and its body names no reference, so the body is never read: the
per-payment token in the path says which payment, and a status check (moved to now)
decides how it ends. A duplicate, late or forged callback can at most cause one more
status call; it cannot settle anything.
"""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from payments import services
from payments.upstream import callback_token


@csrf_exempt  # a server-to-server POST/PUT: the token in the path is the capability
@require_http_methods(["POST", "PUT"])
def momo_callback(request: HttpRequest, reference, token: str) -> HttpResponse:
    if not constant_time_compare(token, callback_token(reference)):
        return JsonResponse({"code": "RESOURCE_NOT_FOUND", "message": "No such callback."}, status=404)
    services.payment_check_now(reference=reference, actor="momo:callback")
    return HttpResponse(status=200)
