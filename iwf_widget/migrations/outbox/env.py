"""Alembic's entry point for the outbox's revisions.

At run time iwf_widget.migrations hands over a connection already inside a
locked transaction. The ``alembic`` command line works too, for writing a
revision: ``python -m alembic -c iwf_widget/migrations/alembic.ini -n outbox ...``.
"""

from iwf_widget.migrations.runenv import run

run("outbox")
