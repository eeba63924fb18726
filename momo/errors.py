"""MoMo's error bodies. Product errors are `{"code", "message"}` (clients map on `code`);
what MTN's API gateway answers itself (subscription key, rate limit, unknown route) is
`{"statusCode", "message"}`, and the token call's credential error is `{"error": ...}`.
"""

from typing import Any

from django.http import JsonResponse


class MomoError(Exception):
    """An expected refusal: raised anywhere under a MoMo view, answered as MoMo would."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


class GatewayError(MomoError):
    """Answered by MTN's gateway (Azure API Management) before the product sees the call."""

    def body(self) -> dict[str, Any]:
        return {"statusCode": self.status, "message": self.message}


class TokenError(MomoError):
    """A bad API user or key on `POST /collection/token/` (MTN's newer platform)."""

    def body(self) -> dict[str, Any]:
        return {"error": self.code}


def error_response(error: MomoError) -> JsonResponse:
    response = JsonResponse(error.body(), status=error.status, headers=error.headers)
    # MoMo answers some caller mistakes (a callback host that does not match, say) with a
    # 500: expected, so not Django's "Internal Server Error" log line.
    if error.status >= 500:
        response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def bad_request(code: str, message: str) -> MomoError:
    return MomoError(400, code, message)


def not_found(message: str = "Requested resource was not found.") -> MomoError:
    return MomoError(404, "RESOURCE_NOT_FOUND", message)


def already_exists(message: str = "Duplicated reference id. Creation of resource failed.") -> MomoError:
    return MomoError(409, "RESOURCE_ALREADY_EXIST", message)


SUBSCRIPTION_MISSING = GatewayError(
    401, "",
    "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.",
)
SUBSCRIPTION_INVALID = GatewayError(
    401, "",
    "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.",
)
ROUTE_NOT_FOUND = GatewayError(404, "", "Resource not found")
