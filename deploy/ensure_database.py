"""Create the PostgreSQL database named in DATABASE_URL if it does not exist (for `make up`)."""

import os
import sys

import dj_database_url
import psycopg
from psycopg import sql


def main() -> None:
    url = os.environ.get("DATABASE_URL", "")
    config = dj_database_url.parse(url) if url else {}
    if config.get("ENGINE") != "django.db.backends.postgresql":
        sys.exit(f"make up needs a PostgreSQL DATABASE_URL, not {url!r}")
    params = {"host": config["HOST"] or None, "port": config["PORT"] or None,
              "user": config["USER"] or None, "password": config["PASSWORD"] or None}
    try:
        with psycopg.connect(dbname="postgres", autocommit=True, connect_timeout=5, **params) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (config["NAME"],)).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
                print(f"created database {config['NAME']}")
    except psycopg.OperationalError as exc:
        sys.exit(f"PostgreSQL is not reachable for {url} ({str(exc).strip().splitlines()[0]}); start it first")


if __name__ == "__main__":
    main()
