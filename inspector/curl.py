"""*Copy as curl*: a recorded call as a shell command, its secrets as shell variables to
fill in ($MOMO_SUBSCRIPTION_KEY, $MOMO_ACCESS_TOKEN, $MOMO_API_USER, $MOMO_API_KEY):
the row holds no secret, so neither can the command."""

import re
import shlex

from inspector.models import ApiCall
from inspector.redact import SECRET_WORDS

SKIPPED = {"host", "content-length", "connection", "accept-encoding", "cookie"}
PLACEHOLDERS = {
    "ocp-apim-subscription-key": '"$MOMO_SUBSCRIPTION_KEY"',
}


def _header(name: str, value: str) -> str:
    lowered = name.lower()
    if lowered == "authorization":
        if value.lower().startswith("bearer"):
            return '-H "Authorization: Bearer $MOMO_ACCESS_TOKEN"'
        if value.lower().startswith("basic"):
            return '-u "$MOMO_API_USER:$MOMO_API_KEY"'
        return '-H "Authorization: $MOMO_AUTHORIZATION"'
    if lowered in PLACEHOLDERS:
        return f'-H "{name}: "{PLACEHOLDERS[lowered]}'
    if any(word in lowered for word in SECRET_WORDS):
        variable = "MOMO_" + re.sub(r"[^A-Z0-9]", "_", name.upper())
        return f'-H "{name}: ${variable}"'
    return "-H " + shlex.quote(f"{name}: {value}")


def as_curl(call: ApiCall, base_url: str) -> str:
    """`base_url`: where the call went (this server, for inbound calls)."""
    url = (call.host if call.direction != "in" and call.host else base_url.rstrip("/")) + call.path
    lines = [f"curl -sS -i -X {shlex.quote(call.method)} {shlex.quote(url)}"]
    for name, value in (call.request_headers or {}).items():
        if name.lower() not in SKIPPED:
            lines.append(_header(name, str(value)))
    if call.request_body:
        lines.append("--data-binary " + shlex.quote(call.request_body))
    return " \\\n  ".join(lines)
