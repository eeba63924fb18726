"""Loading a scenario file: every value checked before anything runs (presenter/scenarios.py
holds the format and plays it). A bad file is one line naming the place of the mistake."""


import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError

from payments import callbacks, services, validation

logger = logging.getLogger("payments.scenarios")
BUNDLED = Path(django_settings.BASE_DIR) / "scenarios"
MAX_PAYMENTS = 10_000
MAX_SECONDS = 24 * 3600
ORDINARY_PHONES = [f"4673312{n:04d}" for n in range(3470, 3500)]  # never a sandbox test number
ANY_PHONE = ORDINARY_PHONES[0]  # stands in while a step without a phone is checked
SETTING_NAMES = set(services.SETTING_CHECKS)


ACTIONS = ("create", "force", "settings", "callbacks", "refund", "transfer")


class ScenarioError(ValueError):
    """A file that cannot be played, in one line that names the place."""


@dataclass(frozen=True)
class Step:
    at: float
    action: str  # create | force | settings
    args: dict[str, Any]


@dataclass
class Scenario:
    name: str
    description: str
    seed: int
    settings: dict[str, Any]
    steps: list[Step]
    source: str = ""

    @property
    def payments(self) -> int:
        return sum(s.args["count"] for s in self.steps if s.action in ("create", "transfer"))



MAX_FILE_BYTES = 256 * 1024  # the bundled ones are a few hundred bytes


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without aliases: `*name` is how a 541-byte file expands to gigabytes."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in a scenario file", mark)
        return super().compose_node(parent, index)


def _read(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ScenarioError(f"the file is {size:,} bytes; a scenario file is at most {MAX_FILE_BYTES:,}")
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    kind = "TOML" if path.suffix == ".toml" else "YAML"
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.load(text, Loader=_NoAliasLoader)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ScenarioError(f"not valid {kind}: {_first_line(exc)}") from None
    except RecursionError:
        raise ScenarioError(f"not valid {kind}: nested too deep") from None
    except ValueError as exc:  # an integer too long to read (Python's digit limit), a bad date
        raise ScenarioError(f"not valid {kind}: {_first_line(exc)}") from None
    if not isinstance(data, dict):
        raise ScenarioError("the file must be a mapping with a `timeline` list")
    return data


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return validation.shown_text(text.splitlines()[0])[:200] if text else type(exc).__name__


def _text(value: Any, where: str, *, max_length: int) -> str:
    """A scenario's name or description, by the same text rule as every other input."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ScenarioError(f"{where}: must be text")
    try:
        return validation.clean_text(value, label=where, max_length=max_length)
    except ValidationError as exc:
        raise ScenarioError(exc.messages[0].rstrip(".")) from None


def _number(value: Any, where: str, *, low: float = 0, high: float = MAX_SECONDS) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ScenarioError(f"{where}: must be a number from {low:g} to {high:g}")
    return float(value)


def _settings(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: must be a mapping of live settings")
    unknown = set(value) - SETTING_NAMES
    if unknown:
        raise ScenarioError(f"{where}: unknown setting {sorted(unknown)[0]!r} (use {', '.join(sorted(SETTING_NAMES))})")
    checked = {}
    for name, item in value.items():
        try:
            checked[name] = services.SETTING_CHECKS[name](item)
        except services.InvalidValue as exc:
            raise ScenarioError(f"{where}.{name}: {exc}") from None
    return checked


def _callbacks(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not value:
        raise ScenarioError(f"{where}: must be a mapping of callback settings")
    try:
        return {"changes": callbacks.clean(value, per_user=False)}
    except callbacks.SettingError as exc:
        raise ScenarioError(f"{where}: {exc}") from None


def _create(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: must be a mapping (phone, amount, currency, booking, count, over)")
    unknown = set(value) - {"phone", "amount", "currency", "booking", "count", "over"}
    if unknown:
        raise ScenarioError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    try:  # the payment's own rules (payment_create's), checked as the file loads
        checked = services.payment_check(
            amount=value.get("amount", "25.00"), currency=value.get("currency", "EUR"),
            phone_number=value.get("phone", ANY_PHONE), booking_details=value.get("booking", {}),
        )
    except services.InvalidValue as exc:
        raise ScenarioError(f"{where}{'.booking' if exc.field == 'booking_details' else ''}: {exc}") from None
    phone = checked["phone_number"] if "phone" in value else None
    amount, currency, booking = checked["amount"], checked["currency"], checked["booking_details"]
    count = value.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_PAYMENTS:
        raise ScenarioError(f"{where}.count: must be a whole number from 1 to {MAX_PAYMENTS}")
    over = _number(value.get("over", 0), f"{where}.over")
    return {"phone": phone, "amount": amount, "currency": currency, "booking": booking, "count": count, "over": over}


def _force(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: must be a mapping (outcome, reason)")
    try:
        outcome = services.check_outcome(value.get("outcome"), value.get("reason", ""))
    except services.InvalidValue as exc:
        raise ScenarioError(f"{where}: {exc}") from None
    return {"outcome": outcome}


def _refund(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        value = {}
    if not isinstance(value, dict) or set(value) - {"amount"}:
        raise ScenarioError(f"{where}: must be a mapping with at most an `amount`")
    try:
        amount = validation.clean_amount(value["amount"]) if "amount" in value else None
    except ValidationError as exc:
        raise ScenarioError(f"{where}: {exc.messages[0]}") from None
    return {"amount": amount}


def _transfer(value: Any, where: str) -> dict[str, Any]:
    if isinstance(value, dict) and "booking" in value:
        raise ScenarioError(f"{where}: unknown field 'booking'")
    return _create(value, where)


def _step(raw: Any, where: str) -> Step:
    if not isinstance(raw, dict) or "at" not in raw:
        raise ScenarioError(f"{where}: each step needs `at` (seconds) and one action")
    at = _number(raw["at"], f"{where}.at")
    actions = [name for name in ACTIONS if name in raw]
    extra = set(raw) - {"at", *ACTIONS}
    if extra:
        raise ScenarioError(f"{where}: unknown action {sorted(extra)[0]!r} (use {', '.join(ACTIONS)})")
    if len(actions) != 1:
        raise ScenarioError(f"{where}: exactly one of {', '.join(ACTIONS)}")
    action = actions[0]
    check = {"create": _create, "force": _force, "settings": _settings, "callbacks": _callbacks,
             "refund": _refund, "transfer": _transfer}[action]
    args = check(raw[action], f"{where}.{action}")
    return Step(at, action, args if action != "settings" else {"changes": args})


def load(path: str | Path) -> Scenario:
    """The validated scenario; ScenarioError (`<file>: <where>: <what>`) otherwise."""
    path = Path(path)
    try:
        data = _read(path)
        unknown = set(data) - {"name", "description", "seed", "settings", "timeline"}
        if unknown:
            raise ScenarioError(f"unknown key {sorted(unknown)[0]!r}")
        timeline = data.get("timeline")
        if not isinstance(timeline, list) or not timeline:
            raise ScenarioError("`timeline` must be a non-empty list of steps")
        seed = data.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
            raise ScenarioError("seed: must be a whole number from 0 to 2**63 - 1")
        scenario = Scenario(
            name=_text(data.get("name"), "name", max_length=80) or validation.shown_text(path.stem)[:80],
            description=_text(data.get("description"), "description", max_length=300),
            seed=seed,
            settings=_settings(data.get("settings", {}), "settings"),
            steps=sorted((_step(raw, f"timeline[{i}]") for i, raw in enumerate(timeline)), key=lambda s: s.at),
            source=str(path),
        )
        if scenario.payments > MAX_PAYMENTS:
            raise ScenarioError(f"at most {MAX_PAYMENTS} payments in one scenario")
        return scenario
    except ScenarioError as exc:
        raise ScenarioError(f"{validation.shown_text(path.name)[:120]}: {exc}") from None


def resolve(name_or_path: str) -> Path:
    """A path, or the stem of a bundled scenario (`rush_hour`)."""
    path = Path(name_or_path)
    if path.exists() or path.suffix:
        return path
    for candidate in (BUNDLED / f"{name_or_path}.yaml", BUNDLED / f"{name_or_path}.toml"):
        if candidate.exists():
            return candidate
    return path


def bundled() -> list[tuple[str, Scenario]]:
    """The scenarios in scenarios/, by file stem; a bad file is left out with one log line."""
    found = []
    for path in sorted(BUNDLED.glob("*.y*ml")) + sorted(BUNDLED.glob("*.toml")):
        try:
            found.append((path.stem, load(path)))
        except ScenarioError as exc:
            logger.warning("scenario left out: %s", exc)
    return found
