"""The MoMo paths in LiveSettle's OpenAPI schema, tagged by product ("MoMo Collections",
"MoMo Disbursements", "MoMo Remittances"; provisioning goes with Collections).

The MoMo views are plain Django views (MoMo's own error shapes, no DRF negotiation), so
drf-spectacular cannot see them; this postprocessing hook adds their description.
tests/http/test_momo_api.py and tests/http/test_momo_products.py check that every MoMo path is here.
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
    paths = {**_token_paths(product), **_account_paths(product)}
    for operations in paths.values():
        for operation in operations.values():
            operation["tags"] = [TAGS[product]]
    return paths


def _token_paths(product: str) -> dict[str, dict[str, Any]]:
    return {
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
    }


def _account_paths(product: str) -> dict[str, dict[str, Any]]:
    return {
        f"/{product}/v1_0/account/balance": {"get": _op(
            f"The API user's {product} balance in its environment's currency",
            {"200": _json("The account's balance in the ledger (a float for disbursement and remittance).", {"$ref": "#/components/schemas/MomoBalance"})}, parameters=[ENVIRONMENT],
        )},
        f"/{product}/v1_0/account/balance/{{currency}}": {"get": _op(
            f"The API user's {product} balance in a currency",
            {"200": _json("The account's balance in that currency, in the ledger.", {"$ref": "#/components/schemas/MomoBalance"}), "500": _error("INVALID_CURRENCY")},
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


for _product in TAGS:
    PATHS.update(_shared_paths(_product))


def _create(summary: str, schema: str, tag: str) -> dict[str, Any]:
    """A write call: the request-to-pay headers, 202 with no body."""
    return {"post": _op(
        summary,
        {"202": {"description": "Accepted (empty body); poll its status or wait for the callback."},
         "400": _error("Bad reference or body."),
         "409": _error("RESOURCE_ALREADY_EXIST: the X-Reference-Id was used before."),
         "413": _error("The body is over 4 KB.", "MomoGatewayError"),
         "500": _error("As MTN answers them: INVALID_CURRENCY, NOT_ALLOWED_TARGET_ENVIRONMENT, INVALID_CALLBACK_URL_HOST (nothing is created).")},
        parameters=[REFERENCE, ENVIRONMENT, _header("X-Callback-Url", "Where the final status is sent; its host must be the API user's providerCallbackHost.", required=False)],
        body={"$ref": f"#/components/schemas/{schema}"}, tag=tag,
    )}


def _status(summary: str, schema: str, tag: str) -> dict[str, Any]:
    return {"get": _op(
        summary,
        {"200": _json("PENDING, SUCCESSFUL or FAILED (FAILED is a 200 too; `reason` says why, e.g. NOT_ENOUGH_FUNDS).", {"$ref": f"#/components/schemas/{schema}"}),
         "404": _error("RESOURCE_NOT_FOUND: unknown, another API user's, or another kind's.")},
        parameters=[_path_param("referenceId", "The X-Reference-Id it was made with."), ENVIRONMENT], tag=tag,
    )}


_C, _D, _R = TAGS["collection"], TAGS["disbursement"], TAGS["remittance"]
PATHS.update({
    "/collection/v1_0/requesttowithdraw": _create("Request to withdraw: money in from the payer, like a request to pay", "MomoRequestToPay", _C),
    "/collection/v2_0/requesttowithdraw": _create("Request to withdraw (v2)", "MomoRequestToPay", _C),
    "/collection/v1_0/requesttowithdraw/{referenceId}": _status("Status of a request to withdraw (either version)", "MomoRequestToPayResult", _C),
    "/disbursement/v1_0/transfer": _create("Transfer: money out of the disbursement float to the payee", "MomoTransfer", _D),
    "/disbursement/v1_0/transfer/{referenceId}": _status("Status of a transfer", "MomoTransferResult", _D),
    "/disbursement/v1_0/deposit": _create("Deposit: money out to the payee (a `payer` instead of `payee` is taken as the payee)", "MomoTransfer", _D),
    "/disbursement/v2_0/deposit": _create("Deposit (v2)", "MomoTransfer", _D),
    "/disbursement/v1_0/deposit/{referenceId}": _status("Status of a deposit (either version)", "MomoTransferResult", _D),
    "/disbursement/v1_0/refund": _create("Refund: pays back (part of) one of the API user's successful requests to pay", "MomoRefund", _D),
    "/disbursement/v2_0/refund": _create("Refund (v2)", "MomoRefund", _D),
    "/disbursement/v1_0/refund/{referenceId}": _status("Status of a refund (either version)", "MomoTransferResult", _D),
    "/remittance/v1_0/transfer": _create("Remittance transfer: money out of the remittance float to the payee", "MomoTransfer", _R),
    "/remittance/v1_0/transfer/{referenceId}": _status("Status of a remittance transfer", "MomoTransferResult", _R),
    "/remittance/v2_0/cashtransfer": _create("Cash transfer: a remittance with the sender's KYC", "MomoCashTransfer", _R),
    "/remittance/v2_0/cashtransfer/{referenceId}": _status("Status of a cash transfer (echoes every field sent)", "MomoCashTransfer", _R),
})


SCHEMAS = {
    "MomoError": {"type": "object", "properties": {"code": {"type": "string", "example": "RESOURCE_NOT_FOUND"}, "message": {"type": "string"}}},
    "MomoGatewayError": {"type": "object", "properties": {"statusCode": {"type": "integer", "example": 401}, "message": {"type": "string"}}},
    "MomoParty": {"type": "object", "properties": {"partyIdType": {"type": "string", "enum": ["MSISDN", "EMAIL", "PARTY_CODE", "ALIAS"], "description": "ALIAS: a payee only."}, "partyId": {"type": "string", "example": "46733123450"}}},
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
    "MomoTransfer": {"type": "object", "required": ["amount", "currency", "payee"], "properties": {
        "amount": {"type": "string", "example": "100"}, "currency": {"type": "string", "example": "EUR"},
        "externalId": {"type": "string", "maxLength": 64}, "payee": {"$ref": "#/components/schemas/MomoParty"},
        "payerMessage": {"type": "string", "maxLength": 160}, "payeeNote": {"type": "string", "maxLength": 160}}},
    "MomoTransferResult": {"type": "object", "properties": {
        "amount": {"type": "string"}, "currency": {"type": "string"}, "externalId": {"type": "string"},
        "payee": {"$ref": "#/components/schemas/MomoParty"}, "payerMessage": {"type": "string"}, "payeeNote": {"type": "string"},
        "financialTransactionId": {"type": "string", "description": "SUCCESSFUL only."},
        "status": {"type": "string", "enum": ["PENDING", "SUCCESSFUL", "FAILED"]},
        "reason": {"description": "FAILED only: a string (default) or {code, message} per API user.",
                   "oneOf": [{"type": "string", "example": "NOT_ENOUGH_FUNDS"}, {"$ref": "#/components/schemas/MomoError"}]}}},
    "MomoRefund": {"type": "object", "required": ["amount", "currency", "referenceIdToRefund"], "properties": {
        "amount": {"type": "string", "example": "30"}, "currency": {"type": "string", "example": "EUR"},
        "externalId": {"type": "string", "maxLength": 64}, "payerMessage": {"type": "string", "maxLength": 160},
        "payeeNote": {"type": "string", "maxLength": 160},
        "referenceIdToRefund": {"type": "string", "format": "uuid", "description": "The X-Reference-Id of the request to pay to refund."}}},
    "MomoCashTransfer": {"allOf": [{"$ref": "#/components/schemas/MomoTransferResult"}, {"type": "object", "properties": {
        name: {"type": "string", "maxLength": 128} for name in (
            "orginatingCountry", "originalAmount", "originalCurrency", "payerIdentificationNumber", "payerIdentity",
            "payerFirstName", "payerSurName", "payerLanguageCode", "payerEmail", "payerMsisdn", "payerGender")
    } | {"payerIdentificationType": {"type": "string", "enum": ["CPFA", "SRSA", "NRIN", "OTHR", "DRLC", "PASS", "SOCS", "AREG", "IDCD", "EMID"]}}}]},
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
