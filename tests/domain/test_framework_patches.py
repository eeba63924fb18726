"""Each place that leans on a framework's internals fails here when the framework changes.

- consumers.common.RenderFromMessage overrides Channels' AsyncConsumer.dispatch to skip one
  thing: the per-message `aclose_old_connections()`;
- consumers.checkout.PaymentConsumer overrides its `__call__` to take its messages from the
  page hub's mailbox instead of a layer channel of its own;
- dashboard/pgpool sets psycopg_pool's private `_check`;
- dashboard/settings.py reads `sys.argv` to name each process in pg_stat_activity and size
  its pool;
- the demo adds Twisted's `backlog` option to Daphne's endpoint string.
"""

import ast
import inspect
import subprocess
import sys
import textwrap

import pytest
from channels.consumer import AsyncConsumer
from django.conf import settings
from psycopg_pool import ConnectionPool
from twisted.internet import endpoints, reactor

from consumers.checkout import PaymentConsumer
from consumers.common import RenderFromMessage
from dashboard.pgpool import base as pgpool
from payments.management.commands import demo
from tests.support import child_env


def _body(function) -> str:
    """The function's statements, normalised by `ast` (no docstring, no comments)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    statements = tree.body[0].body
    if isinstance(statements[0], ast.Expr) and isinstance(statements[0].value, ast.Constant):
        statements = statements[1:]
    return "\n".join(ast.unparse(statement) for statement in statements)


CHANNELS_DISPATCH = (
    "handler = getattr(self, get_handler_name(message), None)\n"
    "if handler:\n"
    "    await aclose_old_connections()\n"
    "    await handler(message)\n"
    "else:\n"
    "    raise ValueError('No handler for message type %s' % message['type'])"
)


def test_channels_dispatch_still_does_only_what_the_override_skips():
    """If Channels' dispatch grows a step, the override must learn it too (or go)."""
    assert _body(AsyncConsumer.dispatch) == CHANNELS_DISPATCH
    # Ours: the same, less the one line.
    ours = _body(RenderFromMessage.dispatch)
    assert "aclose_old_connections" not in ours
    assert "get_handler_name(message)" in ours and "await handler(message)" in ours and "ValueError" in ours


def test_psycopg_pool_still_checks_connections_with_its_private_check():
    seen = []
    pool = ConnectionPool("", open=False, check=lambda conn: seen.append(("django", conn)))
    assert pool._check is not None  # where the pool keeps `check=`
    pool._check = lambda conn: seen.append(("ours", conn))
    pool._check_connection("a connection")
    assert seen == [("ours", "a connection")]
    # And the wrapper sets ours where the pool keeps it.
    assert "pool._check = check_connection" in inspect.getsource(pgpool.DatabaseWrapper)


@pytest.mark.parametrize(
    ("argv", "application_name", "pool"),
    [
        (["manage.py", "auto_complete_daemon", "--help"], "livesettle auto_complete_daemon", 1),
        (["manage.py", "demo", "--help"], "livesettle demo", 8),
    ],
)
def test_settings_still_read_the_command_from_sys_argv(argv, application_name, pool):
    """What a process is called in pg_stat_activity, and its pool, come from sys.argv."""
    script = (
        "import sys; sys.argv = %r; import django; from django.conf import settings; "
        "db = settings.DATABASES['default']; print(db['OPTIONS']['application_name'], db['OPTIONS']['pool']['max_size'])"
    ) % (argv,)
    # Settings are read once per process: a fresh one, which never connects (port 1).
    env = child_env(DATABASE_URL="postgresql://nobody@127.0.0.1:1/none", DJANGO_SETTINGS_MODULE="dashboard.settings")
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{application_name} {pool}"


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_the_demo_endpoint_has_the_raised_backlog_as_twisted_reads_it(host):
    (description,) = demo.endpoints(host, 8123)
    endpoint = endpoints.serverFromString(reactor, description)
    assert (endpoint._port, endpoint._interface, endpoint._backlog) == (8123, host, demo.BACKLOG)


CHANNELS_CALL = (
    "self.scope = scope\n"
    "self.channel_layer = get_channel_layer(self.channel_layer_alias)\n"
    "if self.channel_layer is not None:\n"
    "    self.channel_name = await self.channel_layer.new_channel()\n"
    "    self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)\n"
    "if self._sync:\n"
    "    self.base_send = async_to_sync(send)\n"
    "else:\n"
    "    self.base_send = send\n"
    "try:\n"
    "    if self.channel_layer is not None:\n"
    "        await await_many_dispatch([receive, self.channel_receive], self.dispatch)\n"
    "    else:\n"
    "        await await_many_dispatch([receive], self.dispatch)\n"
    "except StopConsumer:\n"
    "    pass"
)


def test_channels_call_still_does_what_the_checkout_page_does_without_a_channel():
    """consumers.checkout.PaymentConsumer.__call__ is Channels' own, with the page hub's
    mailbox in place of a layer channel: if Channels' grows a step, the page must too."""
    assert _body(AsyncConsumer.__call__) == CHANNELS_CALL
    ours = _body(PaymentConsumer.__call__)
    assert "self.scope = scope" in ours and "self.base_send = send" in ours
    assert "await await_many_dispatch([receive, self.mailbox.get], self.dispatch)" in ours
    assert "except StopConsumer" in ours and "new_channel" not in ours
