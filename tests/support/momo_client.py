"""A MoMo client as integrations write one: in-process (Django's test client) or over real HTTP."""

import base64
import http.client
import json
import uuid
from typing import Any
from urllib.parse import urlsplit

SUBSCRIPTION_KEY = "0123456789abcdef0123456789abcdef"  # MOMO_SUBSCRIPTION_KEY: every product
# MOMO_<PRODUCT>_SUBSCRIPTION_KEY: that product's paths only.
PRODUCT_KEYS = {
    "collection": ["c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0"],
    "disbursement": ["d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1"],
    "remittance": ["e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2"],
}

RTP_BODY = {
    "amount": "100",
    "currency": "EUR",
    "externalId": "order-1",
    "payer": {"partyIdType": "MSISDN", "partyId": "46733123499"},
    "payerMessage": "Gorilla trekking permit",
    "payeeNote": "booking 42",
}


def basic(user_id: str, api_key: str) -> str:
    return "Basic " + base64.b64encode(f"{user_id}:{api_key}".encode()).decode()


class Answer:
    def __init__(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.status = status
        self.body = body
        self.headers = headers

    def json(self) -> Any:
        return json.loads(self.body)


class MomoClient:
    """Speaks MoMo to LiveSettle; `send(method, path, body, headers)` is the transport."""

    def __init__(self, subscription_key: str = SUBSCRIPTION_KEY) -> None:
        self.subscription_key = subscription_key
        self.user_id = ""
        self.api_key = ""
        self.token = ""

    def send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> Answer:
        raise NotImplementedError

    def call(self, method: str, path: str, *, json_body: Any = None, raw: bytes | None = None, **headers: str) -> Answer:
        sent = {"Ocp-Apim-Subscription-Key": self.subscription_key}
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        sent.update({name.replace("_", "-"): value for name, value in headers.items() if value is not None})
        sent = {name: value for name, value in sent.items() if value != ""}
        body = raw if raw is not None else (json.dumps(json_body).encode() if json_body is not None else None)
        if body is not None:
            sent.setdefault("Content-Type", "application/json")
        return self.send(method, path, body, sent)

    def provision(self, callback_host: str = "example.com") -> "MomoClient":
        self.user_id = str(uuid.uuid4())
        created = self.call("POST", "/v1_0/apiuser", json_body={"providerCallbackHost": callback_host}, X_Reference_Id=self.user_id)
        assert created.status == 201, created.body
        keyed = self.call("POST", f"/v1_0/apiuser/{self.user_id}/apikey", raw=b"")
        assert keyed.status == 201, keyed.body
        self.api_key = keyed.json()["apiKey"]
        return self

    def get_token(self, product: str = "collection") -> str:
        self.token = ""
        answer = self.call("POST", f"/{product}/token/", raw=b"", Authorization=basic(self.user_id, self.api_key))
        assert answer.status == 200, answer.body
        self.token = answer.json()["access_token"]
        return self.token

    def request_to_pay(self, body: Any = None, reference: str | None = None, **headers: str) -> tuple[str, Answer]:
        reference = reference or str(uuid.uuid4())
        headers.setdefault("X_Target_Environment", "sandbox")
        answer = self.call(
            "POST", "/collection/v1_0/requesttopay", json_body=RTP_BODY if body is None else body,
            X_Reference_Id=reference, **headers,
        )
        return reference, answer

    def status(self, reference: str) -> Answer:
        return self.call("GET", f"/collection/v1_0/requesttopay/{reference}", X_Target_Environment="sandbox")


class DjangoMomoClient(MomoClient):
    def __init__(self, client, subscription_key: str = SUBSCRIPTION_KEY) -> None:
        super().__init__(subscription_key)
        self.client = client

    def send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> Answer:
        meta = {}
        for name, value in headers.items():
            key = name.upper().replace("-", "_")
            meta[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
        content_type = meta.pop("CONTENT_TYPE", "application/octet-stream")
        response = self.client.generic(method, path, body or b"", content_type=content_type, **meta)
        return Answer(response.status_code, response.content, dict(response.headers))


class HttpMomoClient(MomoClient):
    """Over a real socket, header names sent exactly as given (lower case if asked)."""

    def __init__(self, base_url: str, subscription_key: str = SUBSCRIPTION_KEY, lower_headers: bool = False) -> None:
        super().__init__(subscription_key)
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.lower_headers = lower_headers

    def send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> Answer:
        if self.lower_headers:
            headers = {name.lower(): value for name, value in headers.items()}
        connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return Answer(response.status, response.read(), dict(response.getheaders()))
        finally:
            connection.close()
