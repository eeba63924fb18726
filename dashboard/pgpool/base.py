"""Django's PostgreSQL backend, with a pool that drops its dead connections all at once.

A PostgreSQL restart or `pg_terminate_backend` kills every pooled connection together.
psycopg_pool checks one connection per attempt and backs off 1, 2, 4 s between attempts,
so with eight dead ones a request timed out (503) before it reached a live one. Here the
first dead connection makes the pool check all its idle ones and replace the dead in one
go; the request then gets a fresh connection after one back-off step.
"""

from django.db.backends.postgresql import base
from psycopg import Connection
from psycopg_pool import ConnectionPool


def check_connection(conn: Connection) -> None:
    try:
        ConnectionPool.check_connection(conn)
    except Exception:
        from django.db import connections

        connections["default"].pool.check()  # uses ConnectionPool.check_connection: no recursion
        raise


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self) -> ConnectionPool | None:
        pool = super().pool
        if pool is not None:
            # Django passes its own `check=`, so set ours where psycopg_pool keeps it.
            pool._check = check_connection
        return pool
