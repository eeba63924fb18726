"""The MoMo paths in LiveSettle's OpenAPI schema, tagged by product ("MoMo Collections",
"MoMo Disbursements", "MoMo Remittances"; provisioning goes with Collections).

The MoMo views are plain Django views (MoMo's own error shapes, no DRF negotiation), so
drf-spectacular cannot see them; this postprocessing hook adds their description.
tests/test_momo_api.py and tests/test_momo_products.py check that every MoMo path is here.
"""

import re
from typing import Any

TAG = "MoMo Collections"
TAGS = {"collection": TAG, "disbursement": "MoMo Disbursements", "remittance": "MoMo Remittances"}
SUBSCRIPTION = {"MomoSubscriptionKey": []}


def _error(description: str, shape: str = "MomoError") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{shape}"}}}}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _header(name: str, description: str, *, required: bool = True) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": required, "schema": {"type": "string"}, "description": description}


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}, "description": description}


REFERENCE = _header("X-Reference-Id", "A new UUID v4: the id of what is created.")
ENVIRONMENT = _header("X-Target-Environment", "`sandbox` (EUR) or a configured environment (MOMO_ENVIRONMENTS).", required=False)
COMMON_ERRORS = {
    "401": _error("Missing or wrong subscription key (gateway shape), or a missing, forged or expired token.", "MomoGatewayError"),
    "429": _error("More than the API user's calls per second (MOMO_STATUS_RATE, MOMO_REQUEST_RATE).", "MomoGatewayError"),
}
PRODUCT = [SUBSCRIPTION | {"MomoBearer": []}]


def _op(summary: str, responses: dict[str, Any], *, security=None, parameters=(), body=None, tag: str = TAG) -> dict[str, Any]:
    operation = {
        "tags": [tag],
        "summary": summary,
        "security": security or PRODUCT,
        "parameters": list(parameters),
        "responses": {**responses, **COMMON_ERRORS},
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return operation


STATUS_SCHEMA = {"$ref": "#/components/schemas/MomoRequestToPayResult"}

PATHS: dict[str, dict[str, Any]] = {
    "/v1_0/apiuser": {"post": _op(
        "Sandbox provisioning: create an API user", {"201": {"description": "Created (empty body)."},
                                                    "400": _error("Bad X-Reference-Id or providerCallbackHost."),
                                                    "409": _error("RESOURCE_ALREADY_EXIST")},
        security=[SUBSCRIPTION], parameters=[REFERENCE],
        body={"type": "object", "required": ["providerCallbackHost"], "properties": {"providerCallbackHost": {"type": "string", "example": "example.com"}}},
    )},
    "/v1_0/apiuser/{referenceId}/apikey": {"post": _op(
        "Sandbox provisioning: a new API key (the old one and its tokens stop working)",
        {"201": _json("The key, shown once.", {"type": "object", "properties": {"apiKey": {"type": "string", "example": "f1db798c98df4bcf83b538175893bbf0"}}}),
         "404": _error("RESOURCE_NOT_FOUND")},
        security=[SUBSCRIPTION], parameters=[_path_param("referenceId", "The API user id.")],
    )},
    "/v1_0/apiuser/{referenceId}": {"get": _op(
        "Sandbox provisioning: an API user",
        {"200": _json("The API user.", {"type": "object", "properties": {"providerCallbackHost": {"type": "string"}, "targetEnvironment": {"type": "string"}}}),
         "404": _error("RESOURCE_NOT_FOUND")},
        security=[SUBSCRIPTION], parameters=[_path_param("referenceId", "The API user id.")],
    )},
    "/collection/v1_0/requesttopay": {"post": _op(
        "Request to pay: creates a LiveSettle payment whose reference is X-Reference-Id",
        {"202": {"description": "Accepted (empty body); poll the status or wait for the callback."},
         "400": _error("Bad reference or body."),
         "500": _error("As MTN answers them: INVALID_CURRENCY, NOT_ALLOWED_TARGET_ENVIRONMENT, INVALID_CALLBACK_URL_HOST (nothing is created)."),
         "409": _error("RESOURCE_ALREADY_EXIST: the X-Reference-Id was used before."),
         "413": _error("The body is over 4 KB.", "MomoGatewayError")},
        parameters=[REFERENCE, ENVIRONMENT, _header("X-Callback-Url", "Where the final status is sent; its host must be the API user's providerCallbackHost.", required=False)],
        body={"$ref": "#/components/schemas/MomoRequestToPay"},
    )},
    "/collection/v1_0/requesttopay/{referenceId}": {"get": _op(
        "Status of a request to pay (only the API user's own)",
        {"200": _json("PENDING, SUCCESSFUL or FAILED (FAILED is a 200 too).", STATUS_SCHEMA), "404": _error("RESOURCE_NOT_FOUND: unknown, or another API user's.")},
        parameters=[_path_param("referenceId", "The X-Reference-Id of the request to pay."), ENVIRONMENT],
    )},
}

def _shared_paths(product: str) -> dict[str, dict[str, Any]]:
    """What every product serves under its own prefix (its token, balance, account holder,
    basic user info, delivery notification), tagged with that product."""
    paths = {
        f"/{product}/token/": {"post": _op(
            "A bearer token for Basic auth (API user : API key)",
            {"200": _json("The token.", {"type": "object", "properties": {
                "access_token": {"type": "string"}, "token_type": {"type": "string", "example": "access_token"},
                "expires_in": {"type": "integer", "example": 3600}}}),
             "401": _json("Bad API user or key (also a bad subscription key, gateway shape).", {"type": "object", "properties": {"error": {"type": "string", "example": "invalid_client"}}})},
            security=[SUBSCRIPTION | {"MomoBasic": []}],
        )},
        f"/{product}/v1_0/requesttopay/{{referenceId}}/deliverynotification": {"post": _op(
            "A message to the payer (kept on the payment's timeline)",
            {"200": {"description": "Recorded."}, "400": _error("No message, or over 160 characters."), "404": _error("RESOURCE_NOT_FOUND")},
            parameters=[_path_param("referenceId", "The X-Reference-Id of the request to pay."),
                        _header("notificationMessage", "The message (or send it in the body).", required=False),
                        _header("Language", "The message's language.", required=False)],
        )},
        f"/{product}/v1_0/account/balance": {"get": _op(
            f"The API user's {product} balance in its environment's currency",
            {"200": _json("The sum of its successful payments.", {"$ref": "#/components/schemas/MomoBalance"})}, parameters=[ENVIRONMENT],
        )},
        f"/{product}/v1_0/account/balance/{{currency}}": {"get": _op(
            f"The API user's {product} balance in a currency",
            {"200": _json("The sum of its successful payments in that currency.", {"$ref": "#/components/schemas/MomoBalance"}), "500": _error("INVALID_CURRENCY")},
            parameters=[_path_param("currency", "ISO 4217, e.g. EUR.")],
        )},
        f"/{product}/v1_0/accountholder/{{accountHolderIdType}}/{{accountHolderId}}/active": {"get": _op(
            "Is the payer registered and active (by the sandbox test-number table)",
            {"200": _json("Active or not.", {"type": "object", "properties": {"result": {"type": "boolean"}}}),
             "400": _error("Unknown id type"), "404": _error("PAYER_NOT_FOUND (46733123450)"),
             "500": _error("NOT_ALLOWED, NOT_ALLOWED_TARGET_ENVIRONMENT, INTERNAL_PROCESSING_ERROR (46733123452-454)"),
             "503": _error("SERVICE_UNAVAILABLE (46733123455)")},
            parameters=[_path_param("accountHolderIdType", "msisdn, email or party_code."), _path_param("accountHolderId", "The payer.")],
        )},
        f"/{product}/v1_0/accountholder/msisdn/{{accountHolderMSISDN}}/basicuserinfo": {"get": _op(
            "The payer's name (a fixed sandbox person, or the test number's error)",
            {"200": _json("The person.", {"type": "object", "properties": {name: {"type": "string"} for name in (
                "sub", "name", "given_name", "family_name", "birthdate", "locale", "gender", "updated_at")}}),
             "404": _error("PAYER_NOT_FOUND")},
            parameters=[_path_param("accountHolderMSISDN", "The payer's MSISDN.")],
        )},
    }
    for operations in paths.values():
        for operation in operations.values():
            operation["tags"] = [TAGS[product]]
    return paths


for _product in TAGS:
    PATHS.update(_shared_paths(_product))
for _product in ("disbursement", "remittance"):  # their balances answer from the ledger, next
    PATHS.pop(f"/{_product}/v1_0/account/balance")
    PATHS.pop(f"/{_product}/v1_0/account/balance/{{currency}}")


SCHEMAS = {
    "MomoError": {"type": "object", "properties": {"code": {"type": "string", "example": "RESOURCE_NOT_FOUND"}, "message": {"type": "string"}}},
    "MomoGatewayError": {"type": "object", "properties": {"statusCode": {"type": "integer", "example": 401}, "message": {"type": "string"}}},
    "MomoParty": {"type": "object", "properties": {"partyIdType": {"type": "string", "enum": ["MSISDN", "EMAIL", "PARTY_CODE"]}, "partyId": {"type": "string", "example": "46733123450"}}},
    "MomoRequestToPay": {"type": "object", "required": ["amount", "currency", "payer"], "properties": {
        "amount": {"type": "string", "example": "100", "description": "A string (a JSON number is accepted too)."},
        "currency": {"type": "string", "example": "EUR"},
        "externalId": {"type": "string", "maxLength": 64, "example": "order-1"},
        "payer": {"$ref": "#/components/schemas/MomoParty"},
        "payerMessage": {"type": "string", "maxLength": 160},
        "payeeNote": {"type": "string", "maxLength": 160}}},
    "MomoRequestToPayResult": {"type": "object", "properties": {
        "amount": {"type": "string"}, "currency": {"type": "string"},
        "financialTransactionId": {"type": "string", "description": "SUCCESSFUL only."},
        "externalId": {"type": "string"}, "payer": {"$ref": "#/components/schemas/MomoParty"},
        "payerMessage": {"type": "string"}, "payeeNote": {"type": "string"},
        "status": {"type": "string", "enum": ["PENDING", "SUCCESSFUL", "FAILED"]},
        "reason": {"description": "FAILED only: a string (default) or {code, message} per API user.",
                   "oneOf": [{"type": "string", "example": "APPROVAL_REJECTED"}, {"$ref": "#/components/schemas/MomoError"}]}}},
    "MomoBalance": {"type": "object", "properties": {"availableBalance": {"type": "string", "example": "0"}, "currency": {"type": "string", "example": "EUR"}}},
}

SECURITY_SCHEMES = {
    "MomoSubscriptionKey": {"type": "apiKey", "in": "header", "name": "Ocp-Apim-Subscription-Key"},
    "MomoBasic": {"type": "http", "scheme": "basic", "description": "API user id : API key."},
    "MomoBearer": {"type": "http", "scheme": "bearer", "description": "From POST /<product>/token/: good on that product's paths only."},
}


def add_momo_paths(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOKS entry."""
    for path, operations in PATHS.items():
        for method, operation in operations.items():
            slug = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")
            operation.setdefault("operationId", f"momo_{method}_{slug}")
    result.setdefault("paths", {}).update(PATHS)
    components = result.setdefault("components", {})
    components.setdefault("schemas", {}).update(SCHEMAS)
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    return result
