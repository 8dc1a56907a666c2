"""Helpers the tests import; the fixtures stay in ``tests/conftest.py``.

- :mod:`support.partner`: a partner app with the widget, and valid answers for its form.
- :mod:`support.ports`: a free loopback port.
- :mod:`support.procs`: real processes (intake, widget, a faulty intake) on loopback.
- :mod:`support.servers`: real PostgreSQL and Redis servers, a scaled-out deployment.
- :mod:`support.browser`: Debian's Chromium, servers on loopback origins, axe-core.
- :mod:`support.docblocks`: the code blocks of the README and docs/*.md.
- :mod:`support.venvs`: clean virtual environments for the packaging tests.
"""
