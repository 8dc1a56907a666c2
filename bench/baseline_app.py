"""The conventional baseline: the report form written the usual way with Flask-WTF and Flask-Babel.

The same fields, texts and catalogs as the widget, built as most Flask tutorials
build a form: a ``FlaskForm`` with Flask-WTF's session-based CSRF token, the
language chosen by a Flask-Babel locale selector, and a Jinja template rendered
on every request. ``bench/run.py`` serves it with the same WSGI server and
workers as the widget, to show what the widget costs compared with it.

    gunicorn --pythonpath bench 'baseline_app:create_app()'
"""

from __future__ import annotations

import os

from flask import Flask, render_template, request
from flask_babel import Babel, get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional

from iwf_widget.i18n import LOCALES, RTL, TRANSLATIONS_DIR, display_name


class ReportForm(FlaskForm):
    urls = TextAreaField(_l("Web addresses"), validators=[DataRequired()])
    content_kind = RadioField(
        _l("What did the content show?"),
        choices=[
            ("images", _l("Photos or images")),
            ("videos", _l("Videos")),
            ("generated", _l("Drawings, cartoons or images made with AI or a computer")),
            ("unsure", _l("I am not sure")),
        ],
        validators=[DataRequired()],
    )
    where_seen = RadioField(
        _l("Where did you see it?"),
        choices=[
            ("website", _l("A website")),
            ("social", _l("Social media or an app")),
            ("forum", _l("A forum, chat or comment section")),
            ("search", _l("Search results")),
            ("other", _l("Somewhere else")),
        ],
        validators=[DataRequired()],
    )
    description = TextAreaField(
        _l("Anything else that helps us find it (optional)"), validators=[Optional(), Length(max=2000)]
    )
    contact_email = StringField(_l("Your email address (optional)"), validators=[Optional(), Length(max=254), Email()])
    homepage = StringField(_l("Leave this field empty"))


def select_locale() -> str | None:
    lang = request.args.get("lang")
    if lang in LOCALES:
        return lang
    return request.accept_languages.best_match(LOCALES)


def create_app() -> Flask:
    app = Flask(__name__, template_folder="templates")
    app.config.update(
        SECRET_KEY=os.environ.get("BASELINE_SECRET_KEY", "baseline-secret-key-0123456789"),
        BABEL_DEFAULT_LOCALE="en",
        BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS_DIR),
        BABEL_DOMAIN="iwf_widget",
    )
    Babel(app, locale_selector=select_locale)

    @app.route("/report/form", methods=["GET", "POST"])
    def form():  # type: ignore[no-untyped-def]
        form = ReportForm()
        if form.validate_on_submit():
            return render_template("baseline/thanks.html")
        lang = str(get_locale())
        return render_template(
            "baseline/form.html",
            form=form,
            lang=lang,
            dir="rtl" if lang in RTL else "ltr",
            language_name=display_name(lang),
            step=request.args.get("step", "scope"),
            exit_url="https://duckduckgo.com/",
            emergency_number="112",
        )

    return app
