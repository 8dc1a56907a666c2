"""The partner demo site: a fictional national cyber-safety portal that embeds the widget.

The site itself lives in ``iwf_widget.demo`` so that ``iwf-widget demo`` works
from an installed package; this file is for reading and for running the site
alone against a widget you already serve::

    IWF_DEMO_WIDGET_URL=http://127.0.0.1:8000 flask --app demo_site.app run --port 5000

``iwf-widget demo`` runs it together with the widget and a reference intake.
"""

from iwf_widget.demo import create_app

__all__ = ["create_app"]

app = create_app()
