"""Project-wide HTTP safety: what a server reachable from a room may show, and to whom."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control, patch_vary_headers

from payments.network import is_loopback


class LoopbackOnlyDebugMiddleware:
    """With DEBUG on, answer only this machine: a traceback page never reaches another device.

    The settings refuse DEBUG with non-loopback ALLOWED_HOSTS, but a loopback Host header is
    easy to send from anywhere to a server bound to 0.0.0.0; the peer address is not.
    ALLOW_DEBUG_ON_NETWORK=1 lifts this as it lifts the settings check.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.DEBUG and not settings.ALLOW_DEBUG_ON_NETWORK and not is_loopback(request.META.get("REMOTE_ADDR")):
            return HttpResponse(
                "This LiveSettle server runs in development mode (DEBUG) and answers this machine only.\n"
                "To serve other devices, run it with DEBUG=0 (or the demo with a non-loopback --host).\n",
                status=403,
                content_type="text/plain",
            )
        return self.get_response(request)


class NoStoreWhenSignedInMiddleware:
    """Pages for a signed-in user (staff pages show full phone numbers) are never cached."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.user.is_authenticated:
            patch_cache_control(response, no_store=True, private=True)
        return response


class VaryCookieMiddleware:
    """What SessionMiddleware adds to an answer to a request without a session cookie:
    `Vary: Cookie` (NoStoreWhenSignedInMiddleware reads every request's session). In the
    MoMo chain (settings.MOMO_MIDDLEWARE), so its answers keep that header."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        patch_vary_headers(response, ("Cookie",))
        return response
