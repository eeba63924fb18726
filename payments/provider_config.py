"""The `momo` provider's environment, checked once at start (imported by the settings)."""

import re
import uuid
from urllib.parse import urlsplit

_ENVIRONMENT = re.compile(r"[a-z][a-z0-9]{1,31}")


def _url_problem(name: str, value: str, *, required: bool) -> str | None:
    if not value:
        return f"{name} is not set" if required else None
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return f"{name} must be an http(s) URL such as https://sandbox.momodeveloper.mtn.com, not {value[:80]!r}"
    return None


def upstream_config_errors(
    *, url: str, subscription_key: str, api_user: str, api_key: str, environment: str, callback_base: str, timeout: str
) -> list[str]:
    """Every problem with the client-side MoMo settings, in words; empty when all is well."""
    problems = [
        _url_problem("MOMO_UPSTREAM_URL", url, required=True),
        _url_problem("MOMO_CALLBACK_BASE", callback_base, required=True),
    ]
    for name, value in (("MOMO_UPSTREAM_SUBSCRIPTION_KEY", subscription_key), ("MOMO_UPSTREAM_API_KEY", api_key)):
        if not value:
            problems.append(f"{name} is not set")
    if not api_user:
        problems.append("MOMO_UPSTREAM_API_USER is not set")
    else:
        try:
            uuid.UUID(api_user)
        except ValueError:
            problems.append(f"MOMO_UPSTREAM_API_USER must be the API user's UUID, not {api_user[:40]!r}")
    if not _ENVIRONMENT.fullmatch(environment):
        problems.append(f"MOMO_UPSTREAM_ENVIRONMENT must be a target environment such as sandbox or mtnuganda, not {environment[:40]!r}")
    try:
        seconds = float(timeout)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 120:
        problems.append(f"MOMO_UPSTREAM_TIMEOUT must be a number of seconds between 0 and 120, not {timeout[:20]!r}")
    return [p for p in problems if p]
