"""The blueprint's routes: the form, its submission, the snippet and the health check."""

from __future__ import annotations

import hashlib
import logging
import math
import mimetypes
import os
import typing as t

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException, NotFound, RequestEntityTooLarge, TooManyRequests
from werkzeug.security import safe_join

from . import bidi, compression, embed, headers, i18n, metrics, reference
from .db import brief_error
from .forms import ReportForm, error_fields
from .hosts import HUB
from .i18n import gettext, ngettext
from .outbox import EXIT_KINDS, Outbox
from .pages import SLOTS
from .ratelimit import client_address
from .reference import for_report
from .report import DESCRIPTION_MAX, EMAIL_MAX, MAX_ADDRESSES
from .status import DELIVERED, RECEIVED, UNKNOWN, Found, Problem, Wait
from .submission import Accepted, Limited, Refusal, Refused, Replayed, Result

if t.TYPE_CHECKING:
    from .extension import WidgetState

#: Big enough for ten long addresses and a long description; a 2 MB body is refused unread.
MAX_BODY = 64 * 1024
STEPS = ("scope", "report", "adult", "danger", "self", "other", "language")
#: Views by their name within the blueprint (registered as ``iwf_widget`` and, in hub mode, ``iwf_hub``).
DOCUMENT_ENDPOINTS = frozenset({"form", "submit", "status", "status_lookup"})
#: What the snippet is and loads on partner pages: any site may load them (CORS, CORP).
SNIPPET_ENDPOINTS = frozenset({"embed_js", "embed_labels", "embed_dialog"})
#: The report's limits, for the form's hints and its fields' maxlength.
LIMITS = {"addresses": MAX_ADDRESSES, "description": DESCRIPTION_MAX, "email": EMAIL_MAX}

log = logging.getLogger("iwf_widget")
blueprint = Blueprint("iwf_widget", __name__, template_folder="templates")


def state() -> WidgetState:
    """This request's partner: the hub partner its URL names, else the app's own."""
    widget: WidgetState = g.get("iwf_state") or current_app.extensions["iwf_widget"]
    return widget


def view_name(endpoint: str | None = None) -> str:
    """A view's name without its blueprint's (``form`` for ``iwf_hub.form``); this request's by default."""
    name = request.endpoint if endpoint is None else endpoint
    return (name or "").rpartition(".")[2]


@blueprint.url_value_preprocessor
def _partner(endpoint: str | None, values: dict[str, t.Any] | None) -> None:
    """Under ``/report/p/<partner_id>/``: that partner's state for the whole request, even if
    the partners file is reloaded meanwhile; an id the hub does not know is 404."""
    if not values or "partner_id" not in values:
        return
    partner = values.pop("partner_id")
    hub = current_app.extensions.get("iwf_hub")
    found = hub.get(partner) if hub is not None else None
    if found is None:
        g.iwf_no_partner = True
        raise NotFound()
    g.iwf_partner, g.iwf_state = partner, found


@blueprint.url_defaults
def _partner_in_urls(endpoint: str, values: dict[str, t.Any]) -> None:
    if endpoint.startswith(HUB + ".") and "partner_id" not in values and g.get("iwf_partner"):
        values["partner_id"] = g.iwf_partner


@blueprint.before_request
def _prepare() -> None:
    st = state()
    st.ensure_forwarder()
    hub = current_app.extensions.get("iwf_hub")
    if hub is not None:
        # The deployment's own forwarder keeps the shared outbox tidy; each partner's sends its queue.
        current_app.extensions["iwf_widget"].ensure_forwarder()
        hub.ensure_forwarders()
    request.max_content_length = MAX_BODY
    language()
    g.iwf_accent = embed.accent(request.args.get("accent"))


def language() -> str:
    """The request's language, negotiated on first use.

    Lazily, because an error page may be rendered before ``_prepare`` ran: a host
    app's ``before_request`` (a limiter, a body read past the size limit) that aborts.
    """
    lang: str | None = g.get("iwf_lang")
    if lang is None:
        settings = state().settings
        lang = g.iwf_lang = i18n.negotiate(
            request.args.get("lang"),
            request.headers.get("Accept-Language"),
            settings.locales,
            settings.default_locale,
        )
        g.iwf_translations = state().catalogs.get(lang) or i18n.translations(lang)
    return lang


@blueprint.url_defaults
def _keep_accent(endpoint: str, values: dict[str, t.Any]) -> None:
    """The partner's colour follows the person from page to page of the form."""
    accent = g.get("iwf_accent")
    if accent and view_name(endpoint) in DOCUMENT_ENDPOINTS:
        values.setdefault("accent", accent)


@blueprint.after_request
def _secure(response: Response) -> Response:
    st = state()
    # Only the form and the pages it leads to may be framed; an error page elsewhere may not.
    is_document = view_name() in DOCUMENT_ENDPOINTS and response.mimetype == "text/html" and not g.get("iwf_no_partner")
    headers.apply(
        response,
        document=is_document,
        frame_ancestors=st.settings.allowed_origins,
        cross_origin_resource=view_name() in SNIPPET_ENDPOINTS,
        hsts=request.is_secure,
        style_hashes=(st.inline_style.hash,),
    )
    compression.compress(request, response)
    headers.keep(request.environ, response)  # restored after the host's own hooks (WidgetHeaders)
    return response


def _page(template: str, status: int = 200, **context: t.Any) -> tuple[str, int]:
    st = state()
    lang = language()
    body = render_template(
        f"iwf_widget/{template}",
        _=i18n.gettext_markup,
        pgettext=i18n.pgettext_markup,
        ngettext=i18n.ngettext_markup,
        limits=LIMITS,
        ltr=bidi.ltr,
        isolate_runs=bidi.isolate_runs,
        direction=i18n.direction,
        lang=lang,
        dir=i18n.direction(lang),
        settings=st.settings,
        asset=_asset_url,
        inline_style=st.inline_style.css,
        languages=[(code, i18n.display_name(code)) for code in st.settings.locales],
        language_name=i18n.display_name(lang),
        origins=" ".join(st.settings.allowed_origins),
        theme=url_for(".theme_css", accent=g.iwf_accent) if g.get("iwf_accent") else None,
        **context,
    )
    return body, status


def _asset_url(name: str) -> str:
    version = state().asset_versions.get(name, "")
    return url_for(".static", filename=name, v=version)


def _render_form(
    form: ReportForm,
    status: int = 200,
    step: str = "scope",
    notice: str | tuple[str, ...] | None = None,
    slots: tuple[str, str] | None = None,
    token: str | None = None,
) -> tuple[str, int]:
    """The form page; ``notice`` is one paragraph or several (a title, then what to do)."""
    st = state()
    work = st.work
    if slots is not None:  # the page to be cached (see pages.py)
        token, challenge = slots[0], slots[1] if work.enabled else None
    else:
        token = token or st.signer.issue(g.iwf_lang)
        challenge = work.challenge(token)
    return _page(
        "form.html",
        status,
        form=form,
        token=token,
        work=challenge,
        step=step,
        errors=error_fields(form) if status == 400 else [],
        notice=notice,
    )


def _new_form(formdata: t.Any = None) -> ReportForm:
    return ReportForm(formdata)


@blueprint.get("/form")
def form() -> tuple[bytes, int]:
    step = request.args.get("step", "scope")
    if step not in STEPS:
        step = "scope"
    st = state()
    lang = g.iwf_lang
    if step in EXIT_KINDS:  # without JavaScript, a choice on the scope step is this page
        _count_exit(step, js=False)
    # A new form differs from the last only in its token and challenge: the rest is
    # rendered once (pages.py). The page may depend on nothing of the request outside this key.
    page = st.pages.get(
        ("form", lang, step, g.get("iwf_accent"), request.script_root),
        lambda: _render_form(_new_form(), step=step, slots=(SLOTS["token"], SLOTS["work"]))[0],
    )
    token = st.signer.issue(lang)
    return page.fill(token=token, work=st.work.challenge(token)), 200


@blueprint.post("/exit")
def count_exit() -> Response:
    """The form's own page (with JavaScript) says someone left the scope step for other help.

    Counted per day and kind; from another site's page, nothing is counted.
    """
    kind = request.form.get("kind", "")
    if kind in EXIT_KINDS and _same_origin_request(state().settings.trusted_proxies):
        _count_exit(kind, js=True)
    response = Response(status=204)
    response.headers["Cache-Control"] = "no-store"
    return response


def _count_exit(kind: str, js: bool) -> None:
    _add_to_counter(lambda outbox, partner: outbox.count_exit(kind, js, partner))


def _add_to_counter(add: t.Callable[[Outbox, str], None]) -> None:
    """Add to a daily counter of this partner's; a statistic never costs the person the page."""
    try:
        add(state().outbox, state().settings.partner_id)
    except Exception as error:  # noqa: BLE001  a statistic: the page is shown all the same
        state().throttled.log(
            logging.WARNING, ("count", type(error).__name__), "counting failed: %s", brief_error(error)
        )


@blueprint.post("/form")
def submit() -> tuple[str | bytes, int] | tuple[str, int, dict[str, str]]:
    """The HTTP side of :mod:`submission`: the request in, the result as a page."""
    st = state()
    settings = st.settings
    result = st.submissions.submit(
        request.form,
        language(),
        client_address(request.environ, request.remote_addr, settings.trusted_proxies),
        _same_origin_request(settings.trusted_proxies),
    )
    _count(result)
    if isinstance(result, Accepted):
        return _thanks(result.report_id, again=False)
    if isinstance(result, Replayed):
        return _thanks(result.report_id, again=True)
    if isinstance(result, Refused):
        if result.reason is Refusal.INVALID_ANSWERS:
            # Even an empty form: the person needs to see what is missing.
            return _render_form(result.form, 400, step="report", token=result.token)
        if result.reason is Refusal.CROSS_SITE or not _has_answers(result.form):
            return _blank_refusal(result.reason, result.token)
        return _render_form(result.form, 400, step="report", notice=_refusal_notice(result.reason), token=result.token)
    if isinstance(result, Limited):
        # The answers stay in the page, so nothing typed is lost while the person waits.
        title, message = _wait_notice(result.retry_after)
        body, status = _render_form(result.form, 429, step="report", notice=(title, message), token=result.token)
        return body, status, _retry_after(result.retry_after)
    title, message = _unsaved_notice()
    return _render_form(result.form, 503, step="report", notice=(title, message), token=result.token)


#: The metrics' reason for each refusal (see metrics.REFUSAL_REASONS).
_REFUSAL_REASONS = {
    Refusal.CROSS_SITE: "origin",
    Refusal.TOKEN_INVALID: "token",
    Refusal.TOKEN_EXPIRED: "token",
    Refusal.TOO_FAST: "token",
    Refusal.ALREADY_REFUSED: "token",
    Refusal.HONEYPOT: "honeypot",
    Refusal.INVALID_ANSWERS: "validation",
}


def _count(result: Result) -> None:
    if isinstance(result, Accepted):
        metrics.accepted.inc()
    elif isinstance(result, Refused):
        metrics.refused.labels(_REFUSAL_REASONS[result.reason]).inc()
    elif isinstance(result, Limited):
        metrics.refused.labels("proof_of_work" if result.unproven else "limit").inc()


def _thanks(report_id: str, again: bool) -> tuple[bytes, int]:
    """The thank-you page, rendered once per language; each report fills in its reference."""
    page = state().pages.get(
        ("thanks", g.iwf_lang, again, g.get("iwf_accent"), request.script_root),
        lambda: _page("thanks.html", reference=SLOTS["reference"], again=again)[0],
    )
    return page.fill(reference=for_report(report_id)), 200


def _has_answers(form: ReportForm) -> bool:
    return any(form[name].data for name in ("urls", "content_kind", "where_seen", "description", "contact_email"))


def _blank_refusal(reason: Refusal, token: str) -> tuple[bytes, int]:
    """A refusal without answers to show again, from a page rendered once (a flood's cheap answer)."""
    st = state()
    page = st.pages.get(
        ("refused", language(), reason, g.get("iwf_accent"), request.script_root),
        lambda: _render_form(
            _new_form(), 400, step="report", notice=_refusal_notice(reason), slots=(SLOTS["token"], SLOTS["work"])
        )[0],
    )
    return page.fill(token=token, work=st.work.challenge(token)), 400


def _refusal_notice(reason: Refusal) -> str:
    if reason is Refusal.CROSS_SITE:
        # TRANSLATORS: The report was sent from another website's page, not from the form's own.
        return gettext(
            "This form can only be sent from its own page, so nothing was sent. "
            "Open the form again and send your report from there."
        )
    if reason is Refusal.TOKEN_EXPIRED:
        # TRANSLATORS: A form is valid for two hours; the page shows it again, answers kept.
        return gettext(
            "This form was open for a long time, so we refreshed it. Your answers are still here: "
            "check them and press “Send report” again."
        )
    if reason is Refusal.TOO_FAST:
        # TRANSLATORS: The form was sent within seconds of opening; the page shows it again, answers kept.
        return gettext(
            "This form was sent very soon after it opened, and our safety checks need a few seconds. "
            "Your answers are still here: check them and press “Send report” again."
        )
    # TRANSLATORS: The form's hidden security code was missing, wrong or already used.
    return gettext(
        "We could not check this form, so nothing was sent. Your answers are still here: "
        "check them and press “Send report” again."
    )


def _unsaved_notice() -> tuple[str, str]:
    # TRANSLATORS: A fault on the server: the report could not be stored, and nothing was sent.
    return (
        gettext("Your report could not be saved"),
        gettext(
            "Something went wrong on our side, so your report was not saved. "
            "Please wait a few minutes and send it again."
        ),
    )


def _wait_notice(retry_after: float) -> tuple[str, str]:
    minutes = max(1, math.ceil(retry_after / 60))
    # TRANSLATORS: Too many reports in a short time (from one network, or to this partner).
    return (
        gettext("Please wait before sending your report"),
        # TRANSLATORS: %(num)s is a number of minutes, 1 or more.
        ngettext(
            "A lot of reports have arrived in a short time. Please wait %(num)s minute, then send your report again.",
            "A lot of reports have arrived in a short time. Please wait %(num)s minutes, then send your report again.",
            minutes,
        ),
    )


def _retry_after(seconds: float) -> dict[str, str]:
    """The header of a "please wait" answer: whole seconds, at least one."""
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


def _same_origin_request(trusted_proxies: int) -> bool:
    """Refuse submissions made from other sites; older browsers send neither header."""
    site = request.headers.get("Sec-Fetch-Site")
    if site in ("cross-site", "same-site"):
        return False
    origin = request.headers.get("Origin")
    # With Referrer-Policy: no-referrer, browsers send "Origin: null" on form posts.
    if origin and origin != "null":
        hosts = {request.host}
        if trusted_proxies:  # behind a proxy that may rewrite Host, the host the browser used
            forwarded = request.headers.get("X-Forwarded-Host", "").split(",")
            hosts.add(forwarded[-min(trusted_proxies, len(forwarded))].strip())
        return origin.split("://", 1)[-1] in hosts
    return True


@blueprint.get("/status")
def status() -> tuple[str, int]:
    """The status page: a box for the reference. ``?reference=`` fills it in, nothing more."""
    typed = request.args.get("reference", "")[:40]
    return _status_page(typed=typed)


@blueprint.post("/status")
def status_lookup() -> tuple[str, int] | tuple[str, int, dict[str, str]]:
    """One lookup (status.Lookups): an answer, or the box again saying why not."""
    settings = state().settings
    typed = (request.form.get("reference") or "")[:40]
    try:
        result = state().lookups.lookup(
            request.form,
            language(),
            client_address(request.environ, request.remote_addr, settings.trusted_proxies),
            _same_origin_request(settings.trusted_proxies),
        )
    except Exception as failure:  # noqa: BLE001  the outbox (or Redis) failing: say so, keep what was typed
        metrics.lookups.labels("failed").inc()
        state().throttled.log(
            logging.ERROR, ("lookup", type(failure).__name__), "lookup failed: %s", brief_error(failure)
        )
        notice = (
            gettext("Not checked yet"),
            # TRANSLATORS: Status page, when the check failed on the server's side (its storage is unavailable).
            gettext(
                "We cannot check references at the moment. This does not affect your report. "
                "Please try again in a few minutes."
            ),
        )
        body, code = _status_page(503, typed=typed, notice=notice)
        return body, code, _retry_after(60)
    if isinstance(result, Found):
        metrics.lookups.labels("unknown" if result.state == UNKNOWN else "known").inc()
        _add_to_counter(lambda outbox, partner: outbox.count_lookup("answered", partner))
        return _page("status.html", found=result, answer=_status_answer(result.state), day=_day(result.day, language()))
    if isinstance(result, Wait):
        metrics.lookups.labels("limited").inc()
        _add_to_counter(lambda outbox, partner: outbox.count_lookup("limited", partner))
        title, message = _lookup_wait_notice(result.retry_after)
        body, code = _status_page(429, typed=typed, notice=(title, message))
        return body, code, _retry_after(result.retry_after)
    problem = result.problem
    metrics.lookups.labels(problem.value).inc()
    if problem is Problem.MISTYPED:
        # TRANSLATORS: The reference's last character (a check) does not fit the others: a typing mistake.
        error = gettext(
            "This reference has a typing mistake: one of its letters or digits is wrong. "
            "Check each one against what you wrote down."
        )
        return _status_page(400, typed=typed, error=error)
    if problem is Problem.MALFORMED:
        # TRANSLATORS: What was typed cannot be a reference at all (wrong length or characters).
        error = gettext(
            "This is not a reference. A reference has 12 letters and digits, such as %(example)s.",
            example=bidi.isolate(reference.EXAMPLE),
        )
        return _status_page(400, typed=typed, error=error)
    notice = (
        # TRANSLATORS: Heading on the status page when its hidden security code was missing, too old or used.
        gettext("Not checked yet"),
        gettext("We could not check this page, so we refreshed it. Press “Check” again."),
    )
    return _status_page(400, typed="" if problem is Problem.CROSS_SITE else typed, notice=notice)


def _status_page(
    code: int = 200, typed: str = "", error: str | None = None, notice: tuple[str, ...] | None = None
) -> tuple[str, int]:
    st = state()
    token = st.lookups.signer.issue(language())
    return _page(
        "status.html",
        code,
        found=None,
        token=token,
        work=st.work.challenge(token),
        typed=typed,
        error=error,
        notice=notice,
        example=reference.EXAMPLE,
    )


def _status_answer(state_name: str) -> tuple[str, ...]:
    """The heading and paragraphs for a state, in plain words with what the person can do next."""
    settings = state().settings
    if state_name == RECEIVED:
        return (
            # TRANSLATORS: Status page heading: the report is stored by the partner's site, not yet with the hotline.
            gettext("Your report is saved and on its way"),
            gettext(
                "It is kept safely and will be passed to the hotline's analysts shortly. You do not need to do anything."
            ),
        )
    if state_name == DELIVERED:
        return (
            # TRANSLATORS: Status page heading: the hotline has the report; no analyst has assessed it yet.
            gettext("Your report is with the hotline"),
            gettext("It is waiting for an analyst to check it. You can come back later to see what they decided."),
        )
    if state_name == "removal_requested":
        return (
            # TRANSLATORS: Status page heading: assessed as child sexual abuse; the hotline is having it taken down.
            gettext("The hotline is having the images removed"),
            gettext(
                "An analyst checked your report and found child sexual abuse images. The hotline is now working "
                "to have them taken down."
            ),
            gettext("Thank you: your report helps to protect children."),
        )
    if state_name == "outside_remit":
        return (
            # TRANSLATORS: Status page heading: assessed, but not something the hotline can have removed.
            gettext("The hotline cannot act on this report"),
            gettext(
                "An analyst checked your report. What is at that address is not something the hotline can have removed."
            ),
            gettext(
                "If a child is in danger right now, call the police on %(number)s.",
                number=bidi.isolate(settings.emergency_number_for(language())),
            ),
        )
    if state_name == "not_found":
        return (
            # TRANSLATORS: Status page heading: when the analyst looked, the images were no longer at the address.
            gettext("The images were no longer there"),
            gettext(
                "An analyst checked the web address, but the images had already gone. If you see them again, "
                "you can send a new report."
            ),
        )
    if state_name == "duplicate":
        return (
            # TRANSLATORS: Status page heading: the hotline already had a report of the same images.
            gettext("The hotline already knew about these images"),
            gettext("The hotline's analysts were already dealing with them. Thank you for reporting them."),
        )
    return (
        # TRANSLATORS: Status page heading: no report with this reference is kept on this site.
        gettext("We found no report with this reference"),
        # TRANSLATORS: Status page, under "We found no report with this reference". %(num)s is a number of days.
        ngettext(
            "Check that you typed it as you wrote it down. The status of a report is kept for %(num)s day after it "
            "last changed, and only on the website where it was sent.",
            "Check that you typed it as you wrote it down. The status of a report is kept for %(num)s days after it "
            "last changed, and only on the website where it was sent.",
            settings.status_days,
        ),
    )


def _day(day: str | None, lang: str) -> str | None:
    """The day a state began, written the language's way."""
    if not day:
        return None
    try:
        return i18n.format_day(day, lang)
    except ValueError:
        return day


def _lookup_wait_notice(retry_after: float) -> tuple[str, str]:
    minutes = max(1, math.ceil(retry_after / 60))
    return (
        # TRANSLATORS: Status page heading: too many lookups in a short time (from one network, or on this site).
        gettext("Please wait before checking again"),
        # TRANSLATORS: %(num)s is a number of minutes, 1 or more.
        ngettext(
            "Many checks have been made in a short time. Please wait %(num)s minute, then try again.",
            "Many checks have been made in a short time. Please wait %(num)s minutes, then try again.",
            minutes,
        ),
    )


@blueprint.get("/embed.js")
def embed_js() -> Response:
    st = state()
    default = st.settings.default_locale
    snippet = embed.render(st.static_dir, st.settings.locales, default, st.catalogs.get(default))
    response = Response(snippet.body, mimetype="text/javascript")
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    response.set_etag(snippet.etag)
    response.make_conditional(request)
    return response


@blueprint.get("/embed-labels.js")
def embed_labels() -> Response:
    settings = state().settings
    lang = i18n.match(request.args.get("lang"), settings.locales)
    if lang is None:
        return Response("/* not an offered language */\n", 404, mimetype="text/javascript")
    response = Response(embed.labels_script(lang, state().catalogs.get(lang)), mimetype="text/javascript")
    response.headers["Access-Control-Allow-Origin"] = "*"  # loaded in CORS mode, like the dialog's code
    return _cacheable(response, 3600)


@blueprint.get("/embed-dialog.js")
def embed_dialog() -> Response:
    """The button mode's code. The snippet asks for it with ``?v=`` its integrity hash:
    that version is cached for a year, any other answer for an hour."""
    code = embed.dialog(state().static_dir)
    if code is None:
        return Response("/* no button mode in this installation */\n", 404, mimetype="text/javascript")
    response = Response(code.body, mimetype="text/javascript")
    response.headers["Access-Control-Allow-Origin"] = "*"  # integrity needs a CORS answer
    response.set_etag(code.etag)
    current = request.args.get("v") == code.integrity
    _cacheable(response, 31536000 if current else 3600).make_conditional(request)
    return response


@blueprint.get("/theme.css")
def theme_css() -> Response:
    accent = g.get("iwf_accent")
    if not accent:
        return Response("/* no usable accent colour */\n", 404, mimetype="text/css")
    return _cacheable(Response(embed.theme_css(accent), mimetype="text/css"), 31536000)


def _cacheable(response: Response, max_age: int) -> Response:
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    return response


#: Fixed here: the platform's MIME table may still say application/javascript.
STATIC_TYPES = {".js": "text/javascript", ".css": "text/css"}


@blueprint.get("/static/<path:filename>")
def static(filename: str) -> Response:
    """The form's scripts and styles, from memory, so they can be gzipped like its pages."""
    asset = _static_file(str(state().static_dir), filename)
    if asset is None:
        raise NotFound()
    body, etag = asset
    kind = STATIC_TYPES.get(os.path.splitext(filename)[1]) or mimetypes.guess_type(filename)[0]
    response = Response(body, mimetype=kind or "application/octet-stream")
    response.set_etag(etag)
    _cacheable(response, 31536000 if request.args.get("v") else 3600).make_conditional(request)
    return response


#: The static folder's files, read on first request: bounded by the folder, not by the
#: requests, since a name that is not there is never kept.
_static_files: dict[tuple[str, str], tuple[bytes, str]] = {}


def _static_file(folder: str, filename: str) -> tuple[bytes, str] | None:
    """A file of the widget's own static folder (a few small files, read once), and its ETag."""
    found = _static_files.get((folder, filename))
    if found is None:
        path = safe_join(folder, filename)
        if path is None or not os.path.isfile(path):
            return None
        with open(path, "rb") as f:
            body = f.read()
        found = _static_files[folder, filename] = (body, hashlib.sha256(body).hexdigest()[:16])
    return found


@blueprint.get("/healthz")
def healthz() -> Response:
    """Outbox figures, and whether this process can store reports.

    200 ``ok``; 503 ``degraded`` with the reason while a recent write failed (see
    writehealth.py); 503 ``unavailable`` when the outbox cannot even be read. The
    figures come from a read-only transaction that never waits for a writer, so a
    held write lock (a busy forwarder, a maintenance script) cannot stall it.
    """
    outbox = state().outbox
    try:
        stats = outbox.stats()
    except Exception as error:  # noqa: BLE001  any failure to read is the answer, in one line
        reason = f"the outbox cannot be read ({brief_error(error)})"
        state().throttled.log(logging.ERROR, ("health", type(error).__name__), "health check: %s", reason)
        body: dict[str, t.Any] = {"status": "unavailable", "reason": reason}
        status = 503
    else:
        degraded = outbox.health.degraded()
        body = {"status": "degraded", "reason": degraded, **stats} if degraded else {"status": "ok", **stats}
        status = 503 if degraded else 200
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/metrics")
def metrics_text() -> Response:
    """Prometheus text, only with the bearer token of ``IWF_WIDGET_METRICS_TOKEN`` (404 without it set)."""
    st = state()
    token = st.settings.metrics_token
    if token is None:
        raise NotFound()
    if not metrics.authorized(request.headers.get("Authorization"), token):
        response = Response("a bearer token is needed\n", 401, mimetype="text/plain")
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = metrics.exposition(metrics.OutboxCollector(st.outbox.stats))
    response = Response(body, 200, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.errorhandler(RequestEntityTooLarge)
def _too_large(error: HTTPException) -> tuple[str, int]:
    language()
    return _page(
        "problem.html",
        413,
        # TRANSLATORS: Everything sent together is over the size the server accepts.
        title=gettext("Your report is too long"),
        message=gettext("What you sent is too long for this form. Shorten the description and send it again."),
    )


def too_many_requests(retry_after: float) -> tuple[str, int, dict[str, str]]:
    """The localized "please wait" page, with ``Retry-After``."""
    language()
    title, message = _wait_notice(retry_after)
    body, status = _page("problem.html", 429, title=title, message=message)
    return body, status, _retry_after(retry_after)


@blueprint.errorhandler(TooManyRequests)
def _too_many(error: HTTPException) -> tuple[str, int, dict[str, str]]:
    retry_after = getattr(error, "retry_after", None) or 60
    return too_many_requests(float(retry_after))


@blueprint.errorhandler(HTTPException)
def _other_error(error: HTTPException) -> t.Any:
    """Any other refusal or failure on a widget route, in the person's language.

    A host hook that aborts (a 403 from an IP filter, a 400 from a CSRF check the
    host added by hand) or a server error must not show an English Werkzeug page
    inside the form's frame. A missing asset keeps its plain 404.
    """
    code = error.code or 500
    if code < 400 or g.get("iwf_no_partner") or (code in (404, 405) and view_name() not in DOCUMENT_ENDPOINTS):
        return error
    language()
    return _page(
        "problem.html",
        code,
        title=gettext("Your report has not been sent yet"),
        message=gettext(
            "Something went wrong on our side, so your report was not saved. "
            "Please wait a few minutes and send it again."
        ),
    )
