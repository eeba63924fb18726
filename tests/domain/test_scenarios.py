"""Scenarios: validated timeline files, played through the services, replayable by seed."""

import re
from decimal import Decimal

import pytest
import yaml

from payments import services
from presenter import scenarios
from payments.models import Payment, PaymentLog
from payments.selectors import simulator_settings
from tests.support import sqlite_url_of_test_db
from tests.support import child_env, manage

SMALL = """
name: Small
seed: 5
settings: {timeout_seconds: 2, success_rate: 0.5}
timeline:
  - {at: 0, create: {count: 8, over: 1}}
  - {at: 0.5, create: {phone: "46733123451", amount: "7.00"}}
  - {at: 1, force: {outcome: failed, reason: NOT_ENOUGH_FUNDS}}
  - {at: 1.5, settings: {paused: false}}
"""


def play(path, *, seed=None, speed=50.0) -> list[tuple[str, str, str]]:
    player = scenarios.Player(scenarios.load(path), seed=seed, speed=speed)
    scenarios.run(player)
    return player.summary()


@pytest.mark.django_db(transaction=True)
def test_the_same_seed_plays_the_same_sequence(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    first = play(path)
    Payment.objects.all().delete()
    second = play(path)
    assert first == second and len(first) == 9
    assert {status for _, status, _ in first} <= {"successful", "failed"}
    assert ("46733123451", "failed", "APPROVAL_REJECTED") in first
    assert sum(reason == "NOT_ENOUGH_FUNDS" for _, _, reason in first) >= 1
    Payment.objects.all().delete()
    assert play(path, seed=6) != first  # another seed, another draw
    # It played with its own settings (logged), and put the room's back when it ended.
    assert PaymentLog.objects.filter(actor="scenario:Small", event="config").exists()
    assert simulator_settings().timeout_seconds == 30


@pytest.mark.django_db(transaction=True)
def test_its_settings_go_back_when_it_ends_or_stops_but_not_an_operators_change(tmp_path):
    """Issue 21, finding 1: a rehearsal never leaves the room's settings changed."""
    services.settings_update(actor="operator:alice", approval_mode="phone", timeout_seconds=45)
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    player = scenarios.Player(scenarios.load(path), speed=50)
    player.start()
    config = simulator_settings()
    assert (config.approval_mode, config.timeout_seconds, config.success_rate) == ("phone", 2, 0.5)
    services.settings_update(actor="operator:alice", success_rate=0.9)  # the operator's own change
    assert player.finish() == {"timeout_seconds": 45}
    config = simulator_settings()
    assert (config.approval_mode, config.timeout_seconds, config.success_rate) == ("phone", 45, 0.9)
    assert player.finish() == {}  # once
    # Stopped early (the command's Ctrl+C): the same.
    scenarios.run(scenarios.Player(scenarios.load(path), speed=50), should_stop=lambda: True)
    assert simulator_settings().timeout_seconds == 45


@pytest.mark.django_db(transaction=True)
def test_the_command_prints_the_summary_and_replays(tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(
        'name = "Toml"\nseed = 9\n[settings]\ntimeout_seconds = 1\n'
        '[[timeline]]\nat = 0\ncreate = { count = 4, over = 0.5 }\n'
    )
    env = child_env(DATABASE_URL=sqlite_url_of_test_db())
    one = manage("run_scenario", str(path), "--speed", "20", env=env).stdout.splitlines()
    two = manage("run_scenario", str(path), "--speed", "20", env=env).stdout.splitlines()
    assert one[0] == "playing 'Toml': 4 payments, seed 9, speed 20x"
    assert one[-1].startswith("done: 4 payments") or one[-2].startswith("done: 4 payments")
    sequence = lambda lines: [line.split()[1:] for line in lines[1:5]]  # noqa: E731
    assert sequence(one) == sequence(two)
    assert Payment.objects.count() == 8


BAD = [
    ("timeline: []", "bad.yaml: `timeline` must be a non-empty list of steps"),
    ("timeline:\n  - {at: 0, create: {amount: '-3'}}", "bad.yaml: timeline[0].create: Amount must be more than 0."),
    ("timeline:\n  - {at: 0, create: {phone: '12'}}", "bad.yaml: timeline[0].create: Phone number '12' must be 8 to 15 digits"),
    ("timeline:\n  - {at: 0, force: {outcome: failed, reason: NOPE}}", "bad.yaml: timeline[0].force: Unknown MoMo reason code: NOPE."),
    ("timeline:\n  - {at: 0, settings: {success_rate: 5}}", "bad.yaml: timeline[0].settings.success_rate: Success rate must be between 0 and 1: 0.9 means 9 in 10 succeed."),
    ("timeline:\n  - {at: 0, dance: {}}", "bad.yaml: timeline[0]: unknown action 'dance' (use create, force, settings, callbacks, refund, transfer)"),
    ("timeline:\n  - {at: -1, create: {}}", "bad.yaml: timeline[0].at: must be a number from 0 to 86400"),
    ("timeline:\n  - {at: 0, callbacks: {drop_rate: 2}}", "bad.yaml: timeline[0].callbacks: The callback setting drop_rate "),
    ("timeline: [ {at: 0", "bad.yaml: not valid YAML: while parsing a flow mapping"),
]


@pytest.mark.django_db(transaction=True)
def test_a_bad_file_is_one_line_exit_2_and_nothing_created(tmp_path):
    env = child_env(DATABASE_URL=sqlite_url_of_test_db())
    path = tmp_path / "bad.yaml"
    # The last step is bad: the good ones before it must not run either.
    path.write_text("timeline:\n  - {at: 0, create: {count: 3}}\n  - {at: 1, create: {currency: XXX}}\n")
    result = manage("run_scenario", str(path), env=env, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "CommandError: bad.yaml: timeline[1].create: Currency 'XXX' is not supported (use one of EUR, UGX, GHS, XAF, XOF, ZMW, RWF, USD)."
    ]
    assert Payment.objects.count() == 0 and PaymentLog.objects.count() == 0
    assert manage("run_scenario", "no_such_scenario", env=env, check=False).returncode == 2


@pytest.mark.parametrize("text,message", BAD)
def test_it_names_the_place_of_each_mistake(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(scenarios.ScenarioError) as caught:
        scenarios.load(path)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_the_bundled_scenarios_load():
    found = dict(scenarios.bundled())
    assert set(found) >= {"happy_path", "rainy_day", "rush_hour"}
    assert found["rush_hour"].payments == 500
    assert max(s.at + s.args.get("over", 0) for s in found["rush_hour"].steps) <= 60


@pytest.mark.django_db(transaction=True)
def test_rainy_day_shows_every_failure_reason():
    from payments import outcomes

    rows = play(scenarios.resolve("rainy_day"), speed=40)
    assert {reason for _, _, reason in rows} == set(outcomes.REASONS)
    assert not simulator_settings().paused


def test_traffic_rates():
    assert scenarios.parse_rate("2/s") == 2 and scenarios.parse_rate("30/min") == 0.5
    for bad in ("0/s", "2/h", "x", "1000/s"):
        with pytest.raises(ValueError):
            scenarios.parse_rate(bad)


@pytest.mark.django_db(transaction=True)
def test_a_callbacks_step_sets_the_callback_faults(tmp_path):
    from payments import callbacks

    path = tmp_path / "faults.yaml"
    path.write_text("timeline:\n  - {at: 0, callbacks: {drop_rate: 0.5, duplicates: 3}}\n  - {at: 0.1, create: {}}\n")
    play(path)
    assert callbacks.effective()["drop_rate"] == 0.5 and callbacks.effective()["duplicates"] == 3


# --- hostile files: one line each, nothing created, bounded memory ---------------------------

ALIAS_BOMB = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
name: *i
timeline: [{at: 0, create: {count: 1}}]
"""

HOSTILE = [
    ("alias bomb", "bomb.yaml", ALIAS_BOMB.encode(), "aliases (*name) are not allowed"),
    ("merge key", "merge.yaml", b"base: &b {at: 0}\ntimeline: [{<<: *b, create: {}}]\n", "aliases (*name) are not allowed"),
    ("huge integer", "big.yaml", b"seed: 1" + b"0" * 5000 + b"\ntimeline: [{at: 0, create: {}}]\n", "not valid YAML"),
    ("huge seed", "seed.yaml", b"seed: " + str(2**70).encode() + b"\ntimeline: [{at: 0, create: {}}]\n", "seed: must be"),
    ("huge TOML integer", "big.toml", b"seed = 1" + b"0" * 5000 + b"\n", "not valid TOML"),
    ("Latin-1", "latin.yaml", "name: Café\ntimeline: [{at: 0, create: {}}]\n".encode("latin-1"), "not UTF-8 text"),
    ("deep YAML", "deep.yaml", b"timeline: " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested too deep"),
    ("deep TOML", "deep.toml", b"timeline = " + b"[" * 5000 + b"]" * 5000 + b"\n", "not valid TOML"),
    ("bidi name", "bidi.yaml", 'name: "\\u202Eevil"\ntimeline: [{at: 0, create: {}}]\n'.encode(), "bidirectional control"),
    ("control name", "bell.yaml", 'name: "ring\\a"\ntimeline: [{at: 0, create: {}}]\n'.encode(), "control character"),
    ("too big", "big2.yaml", b"# " + b"x" * 300_000 + b"\ntimeline: [{at: 0, create: {}}]\n", "at most 262,144"),
]


@pytest.mark.parametrize(("case", "name", "content", "words"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_file_is_one_line_and_creates_nothing(db, tmp_path, case, name, content, words):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(scenarios.ScenarioError) as caught:
        scenarios.load(path)
    message = str(caught.value)
    assert message.startswith(f"{name}: ") and words in message, message
    assert "\n" not in message and len(message) < 300
    assert Payment.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_alias_bomb_is_one_line_from_the_command_within_a_memory_cap(tmp_path):
    import resource
    import subprocess
    import sys

    from tests.support import ROOT

    path = tmp_path / "bomb.yaml"
    path.write_text(ALIAS_BOMB)
    cap = 2 * 1024**3  # the bomb needs far more; Django and the libraries far less

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    result = subprocess.run(
        [sys.executable, "manage.py", "run_scenario", str(path)], cwd=ROOT, preexec_fn=limit,
        env=child_env(DATABASE_URL=sqlite_url_of_test_db()), capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "CommandError: bomb.yaml: not valid YAML: aliases (*name) are not allowed in a scenario file"
    ]
    assert Payment.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_day_of_bookings_cancels_two_and_pays_a_guide_out_of_the_float(settings):
    from payments.ledger_audit import ledger_discrepancies
    from payments.selectors import product_balance

    settings.MOMO_DEFAULT_FLOAT = Decimal("100000")
    play(scenarios.resolve("day_of_bookings"), speed=40)
    refunds = list(Payment.objects.filter(kind="refund").order_by("id"))
    assert [(r.status, r.amount) for r in refunds] == [("successful", Decimal("300.00")), ("successful", Decimal("30.00"))]
    assert refunds[0].refund_of.refunded_amount == Decimal("300.00")  # the kayak tour, in full
    assert refunds[1].refund_of.amount == Decimal("45.50")  # the coffee visit, in part
    transfer = Payment.objects.get(kind="transfer")
    assert (transfer.status, transfer.phone_number, transfer.direction) == ("successful", "46733123481", "out")
    assert product_balance(None, "disbursement", "EUR") == Decimal("100000") - 300 - 30 - 250
    assert ledger_discrepancies() == []


@pytest.mark.parametrize(("step", "words"), [
    ({"at": 0, "refund": {"amount": "-1"}}, "Amount must be more than 0"),
    ({"at": 0, "refund": {"of": 1}}, "at most an `amount`"),
    ({"at": 0, "transfer": {"amount": "5", "booking": {}}}, "unknown field 'booking'"),
])
def test_a_bad_refund_or_transfer_step_is_one_line(tmp_path, step, words):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"timeline": [step]}))
    with pytest.raises(scenarios.ScenarioError, match=re.escape(words)):
        scenarios.load(path)
