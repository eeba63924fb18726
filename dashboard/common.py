"""What every dashboard view shares: the staff check, the actor, partials and toasts."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

PAGE = "dashboard/dashboard.html"
TOAST = f"{PAGE}#toast"


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous pages go to the login page; anything else not staff is 403, actions included."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated and request.method == "GET":
            return redirect_to_login(request.get_full_path())
        if not request.user.is_staff:
            raise PermissionDenied("Staff only.")
        return view(request, *args, **kwargs)

    return guarded


def actor_of(request: HttpRequest) -> str:
    return f"operator:{request.user.get_username()}"


def render_partial(name: str, context: dict[str, Any], *, oob: bool = False) -> str:
    """`oob`: an htmx out-of-band swap by id, for HTTP answers (socket messages swap by id anyway)."""
    return render_to_string(name, {**context, "oob": oob})


def toast(message: str, *, level: str = "ok", status: int = 200, extra: str = "") -> HttpResponse:
    """The answer to an action; the page's htmx swaps 4xx toasts too (static/js/dashboard.js)."""
    html = render_partial(TOAST, {"message": message, "level": level}) + extra
    return HttpResponse(html, status=status)


def _short(reference: Any) -> str:
    return str(reference)[:8]
