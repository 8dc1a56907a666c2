"""What each schema's ``env.py`` runs: one body for both, only the schema differs."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from . import SCHEMAS


def run(name: str) -> None:
    schema = SCHEMAS[name]
    connection = context.config.attributes.get("connection")
    if context.is_offline_mode():
        context.configure(url=context.config.get_main_option("sqlalchemy.url"), version_table=schema.version_table)
        with context.begin_transaction():
            context.run_migrations()
        return
    if connection is not None:
        _online(connection, schema.version_table)
        return
    from ..db import create_engine

    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option("sqlalchemy.url")
    engine = create_engine(url or "")
    with engine.begin() as conn:
        _online(conn, schema.version_table)
    engine.dispose()


def _online(connection: sa.Connection, version_table: str) -> None:
    context.configure(connection=connection, version_table=version_table, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
