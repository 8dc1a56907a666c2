"""The widget and the ceiling as WSGI apps for ``bench/run.py``, configured from the environment.

gunicorn --pythonpath bench 'apps:widget()'   # IWF_WIDGET_* variables, as for `iwf-widget serve`
gunicorn --pythonpath bench 'apps:ceiling()'  # IWF_BENCH_PAGE: the file it serves
"""

from __future__ import annotations

import os

from flask import Flask, Response


def widget() -> Flask:
    """The standalone widget, exactly as ``iwf-widget serve`` builds it."""
    from iwf_widget.serving import widget_app

    return widget_app(os.environ)


def ceiling() -> Flask:
    """A bare Flask view returning a constant page: what any Flask form page costs at least."""
    path = os.environ.get("IWF_BENCH_PAGE")
    if path:
        with open(path, "rb") as f:
            page = f.read()
    else:
        page = b"<!doctype html><title>Report</title><form method=post></form>\n"
    app = Flask(__name__)

    @app.get("/report/form")
    def form() -> Response:
        return Response(page, mimetype="text/html")

    return app
