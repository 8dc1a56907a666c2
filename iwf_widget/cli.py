"""The ``iwf-widget`` command: thin wrappers over the library's modules."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
import typing as t

import click

from .protocol import OUTCOMES
from .sealing import generate_keypair


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="iwf-widget")
def main() -> None:
    """An embeddable, anonymous report form and its central intake."""


@main.command()
def keygen() -> None:
    """Print a new intake key pair (private key for the intake, public key for partners)."""
    private, public = generate_keypair()
    click.echo(f"IWF_INTAKE_PRIVATE_KEY={private}")
    click.echo(f"IWF_WIDGET_INTAKE_PUBLIC_KEY={public}")


class StartupFailed(click.ClickException):
    """One line on stderr, exit status 2: the command could not start."""

    exit_code = 2


@contextlib.contextmanager
def _starting(database_key: str | None = None) -> t.Iterator[None]:
    """What fails while a command starts ends it with one line naming cause and fix."""
    from .startup import StartupError, starting

    try:
        with starting(database_key):
            yield
    except StartupError as e:
        raise StartupFailed(str(e)) from None


def _configured(build: t.Callable[[], t.Any], database_key: str | None = None) -> t.Any:
    """Build from the environment; a bad setting ends the command with its key named."""
    with _starting(database_key):
        value = build()
    _warn_unknown_keys()
    return value


def _warn_unknown_keys() -> None:
    """A misspelt ``IWF_WIDGET_*`` or ``IWF_INTAKE_*`` variable would otherwise be ignored silently."""
    from .settings import unknown_keys

    for warning in unknown_keys(os.environ, once=True):
        click.echo(f"warning: {warning}", err=True)


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per batch is noise


def _interrupt_on_term() -> None:
    """Let SIGTERM (service managers, containers) stop as cleanly as Ctrl-C does."""

    def handler(signum: int, frame: t.Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def _serve(server: t.Any, what: str, url: str) -> None:
    click.echo(f"{what} on {url} (Ctrl-C to stop)", err=True)
    _interrupt_on_term()
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


def _check_in_background(instance: str) -> None:
    """`iwf-widget check`'s checks, as warnings, without delaying the first request."""
    import threading

    from . import checks

    def work() -> None:
        for result in checks.run(os.environ, instance):
            if not result.ok:
                logging.getLogger("iwf_widget.check").warning("%s: %s", result.name, result.message)

    threading.Thread(target=work, name="iwf-check", daemon=True).start()


host_option = click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
threads_option = click.option(
    "--threads", default=8, show_default=True, type=click.IntRange(1, 256), help="Worker threads."
)


@main.command()
@host_option
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@threads_option
def serve(host: str, port: int, threads: int) -> None:
    """Serve the widget at /report, configured from IWF_WIDGET_* variables (waitress).

    The outbox defaults to a SQLite file in $IWF_WIDGET_INSTANCE (or ./instance).
    The forwarder runs in this process unless IWF_WIDGET_FORWARDER=off.
    """
    from . import ReportWidget
    from .serving import make_server, server_url, widget_app

    _logging()
    app = _configured(lambda: widget_app(os.environ), "IWF_WIDGET_OUTBOX_URL")
    with _starting():
        server = make_server(app, host, port, threads)
    state = ReportWidget.state(app)
    _check_in_background(app.instance_path)
    state.ensure_forwarder()  # resume forwarding at once after a restart, not at the first visit
    hub = app.extensions.get("iwf_hub")
    if hub is not None:
        hub.ensure_forwarders()

        def reload_hub() -> list[str]:
            changes: list[str] = hub.reload()
            hub.ensure_forwarders()
            return changes

        _reload_on_hangup(reload_hub)
    try:
        _serve(server, "iwf-widget serving the widget", server_url(server) + "/report/form")
    finally:
        state.stop_forwarder()
        if hub is not None:
            hub.stop_forwarders()


def _reload_on_hangup(reload_file: t.Callable[[], list[str]]) -> None:
    """``kill -HUP``: read the partners file again, beside the requests being served or sent."""
    from .settings import ConfigError

    log = logging.getLogger("iwf_widget")

    def reload() -> None:
        try:
            changes = reload_file()
        except ConfigError as e:
            log.error("partners file not reloaded, the partners stay as they were: %s", e)
            return
        log.warning("partners file reloaded: %s", "; ".join(changes) or "no change")

    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, lambda signum, frame: threading.Thread(target=reload, daemon=True).start())


@main.command()
@host_option
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@threads_option
def intake(host: str, port: int, threads: int) -> None:
    """Run the reference central intake, configured from IWF_INTAKE_* variables (waitress).

    IWF_INTAKE_DB_URL (default: SQLite in ./instance), IWF_INTAKE_PRIVATE_KEY,
    IWF_INTAKE_PARTNERS (JSON: {"partner-id": ["signing key", ...]}).
    """
    from .intake import create_app
    from .serving import make_server, server_url

    _logging()
    app = _configured(lambda: create_app(os.environ), "IWF_INTAKE_DB_URL")
    with _starting():
        server = make_server(app, host, port, threads)
    _serve(server, "iwf-widget intake", server_url(server))


@main.command("intake-export")
@click.option("--csv", "as_csv", is_flag=True, help="CSV for a spreadsheet instead of JSON lines.")
def intake_export(as_csv: bool) -> None:
    """Print the intake's stored reports as JSON lines, oldest first (from IWF_INTAKE_DB_URL).

    One report a line whatever it holds; in CSV no cell starts like a formula.
    """
    from .intake.export import csv_lines, json_line

    store = _intake_store()
    try:
        out = sys.stdout
        lines = csv_lines(store.export()) if as_csv else (json_line(r) + "\n" for r in store.export())
        for line in lines:
            out.write(line)
        out.flush()
    finally:
        store.close()


@main.command("intake-outcome")
@click.argument("reference")
@click.argument("outcome", type=click.Choice(OUTCOMES))
@click.option("--partner", metavar="ID", help="The partner whose report it is (only if two share the reference).")
def intake_outcome(reference: str, outcome: str, partner: str | None) -> None:
    """Record an analyst's OUTCOME for the report with REFERENCE (in IWF_INTAKE_DB_URL).

    The partner's forwarder fetches it at its next pass, and the reporter sees it
    on the status page. Setting it again replaces it.
    """
    from .intake.outcomes import OutcomeError, record

    store = _intake_store()
    try:
        done = record(store, reference, outcome, partner)
    except OutcomeError as e:
        raise click.ClickException(str(e)) from None
    finally:
        store.close()
    click.echo(f"{done.reference}: {done.outcome} (a report from {done.partner})")


@main.command("review-kit")
@click.option("--lang", required=True, help="The language to review, such as wo.")
@click.option("--out", "out", required=True, metavar="DIR", help="Where to write review-LANG.html.")
def review_kit(lang: str, out: str) -> None:
    """A self-contained page for a native reviewer: every step of the form in LANG, each beside its strings.

    Needs Playwright and Chromium (pip install 'iwf-widget[review]'; apt install chromium).
    """
    from .review_kit import KitError, make

    try:
        path = make(lang, out)
    except KitError as e:
        raise StartupFailed(str(e)) from None
    click.echo(f"wrote {path}")


def _intake_store() -> t.Any:
    """The intake's database from IWF_INTAKE_DB_URL, which must exist (these commands read it)."""
    from .intake.settings import db_url
    from .intake.store import Store
    from .startup import check_database_url

    def open_store() -> Store:
        url = db_url(os.environ)
        check_database_url(url, "IWF_INTAKE_DB_URL", must_exist=True)
        return Store(url)

    return _configured(open_store, "IWF_INTAKE_DB_URL")


def _write_stats(title: str, intro: str, charts: t.Any, lang: str, html: str | None) -> None:
    from . import charts as drawing
    from .stats import empty_text

    if html is None:
        click.echo(f"{title}\n{intro}\n\n{drawing.text(charts)}", nl=False)
        return
    with open(html, "w", encoding="utf-8") as f:
        f.write(drawing.page(title, lang, charts, intro, empty_text(lang)))
    click.echo(f"wrote {html}")


def _stats_lang(lang: str) -> str:
    from .i18n import available

    if lang not in available():
        raise click.BadParameter(f"{lang!r} is not one of {' '.join(available())}", param_hint="--lang")
    return lang


@main.command()
@click.option("--html", "html", metavar="FILE", help="Write a self-contained page with charts to FILE.")
@click.option("--lang", default="en", show_default=True, help="The language of the figures' labels.")
@click.option("--partner", metavar="ID", help="Only this partner's figures (a hub's partner, or the deployment's own).")
def stats(html: str | None, lang: str, partner: str | None) -> None:
    """Reports per day, week and language, who the scope step sent to other help, and checks on reports.

    From the outbox's daily counters (IWF_WIDGET_OUTBOX_URL or IWF_WIDGET_INSTANCE):
    every partner's added up, or one partner's with --partner.
    """
    from .serving import instance_path
    from .settings import outbox_url
    from .stats import partner_charts

    lang = _stats_lang(lang)
    box = _configured(lambda: _open_outbox(outbox_url(os.environ, instance_path())), "IWF_WIDGET_OUTBOX_URL")
    try:
        with _outbox_trouble("read"):
            daily = box.daily(partner)
    finally:
        box.close()
    _write_stats(*partner_charts(daily, lang), lang=lang, html=html)


@main.command("intake-stats")
@click.option("--html", "html", metavar="FILE", help="Write a self-contained page with charts to FILE.")
@click.option("--lang", default="en", show_default=True, help="The language of the figures' labels.")
def intake_stats(html: str | None, lang: str) -> None:
    """Reports per partner per month, languages and delays, from the intake (IWF_INTAKE_DB_URL)."""
    from .stats import intake_charts

    lang = _stats_lang(lang)

    store = _intake_store()
    try:
        figures = list(store.figures())
    finally:
        store.close()
    _write_stats(*intake_charts(figures, lang), lang=lang, html=html)


@main.command()
@click.option(
    "--intake", "intake_side", is_flag=True, help="The intake's database (IWF_INTAKE_DB_URL) instead of the outbox."
)
def migrate(intake_side: bool) -> None:
    """Bring the outbox's schema (from IWF_WIDGET_OUTBOX_URL), or the intake's, to the newest revision.

    Every process also does this when it opens a database; this command lets
    an operator do it first, and see what was done.
    """
    from . import migrations
    from .db import create_engine, reader

    if intake_side:
        from .intake.settings import db_url

        url, schema = _configured(lambda: db_url(os.environ)), migrations.INTAKE
    else:
        from .serving import instance_path
        from .settings import outbox_url

        url, schema = _configured(lambda: outbox_url(os.environ, instance_path())), migrations.OUTBOX
    engine = create_engine(url)
    reads = reader(engine)
    try:
        done = migrations.upgrade(engine, schema, reads)
        with reads.connect() as conn:
            at = migrations.current(conn, schema)
    finally:
        engine.dispose()
        reads.dispose()
    for line in done:
        click.echo(line)
    click.echo(f"{schema.name}: at {at} (newest {migrations.head(schema)})" + ("" if done else ", nothing to do"))


#: Seconds ``iwf-widget outbox --requeue-failed`` waits for a write lock another process holds.
COMMAND_WRITE_WAIT = 5.0


def _open_outbox(url: str, write_wait: float | None = None) -> t.Any:
    """The outbox a server already made; a missing SQLite file is an error, not a new empty outbox."""
    from .outbox import Outbox
    from .startup import check_database_url

    check_database_url(url, "IWF_WIDGET_OUTBOX_URL", must_exist=True)
    return Outbox(url, write_wait=write_wait)


class OutboxUnavailable(click.ClickException):
    """The outbox answered with an error: one line on stderr, exit status 1."""


@contextlib.contextmanager
def _outbox_trouble(what: str) -> t.Iterator[None]:
    """A database failure while reading or writing the outbox, as one line naming it."""
    from sqlalchemy.exc import SQLAlchemyError

    from .db import brief_error

    try:
        yield
    except SQLAlchemyError as e:
        reason = brief_error(e)
        hint = "; another process holds the outbox's write lock: try again" if "locked" in reason else ""
        raise OutboxUnavailable(f"cannot {what} the outbox ({reason}){hint}") from None


def _partner_side() -> tuple[t.Any, t.Any]:
    """Settings for forwarding (no intake public key needed: reports are sealed already) and the outbox."""
    from .serving import instance_path
    from .settings import Settings

    def build() -> tuple[t.Any, t.Any]:
        settings = Settings.from_mapping(os.environ, instance_path(), sealing=False)
        return settings, _open_outbox(settings.outbox_url)

    return _configured(build, "IWF_WIDGET_OUTBOX_URL")  # type: ignore[no-any-return]


@main.command()
@click.option("--loop", is_flag=True, help="Keep forwarding until stopped (Ctrl-C).")
def forward(loop: bool) -> None:
    """Forward the outbox to the intake now (from IWF_WIDGET_* variables).

    For deployments that run forwarding apart from the web processes
    (IWF_WIDGET_FORWARDER=off there). Several may run at once. With --loop in
    hub mode, kill -HUP reads the partners file again, as for serve.
    """
    from .forwarder import Forwarder, combined

    _logging()
    settings, outbox = _partner_side()
    own = Forwarder(settings, outbox)
    partners_file = os.environ.get("IWF_WIDGET_PARTNERS_FILE")
    partners = None
    if partners_file:  # hub mode: every partner's reports, each signed with its own key
        from .hub import PartnerForwarders
        from .serving import instance_path

        partners = _configured(lambda: PartnerForwarders(partners_file, os.environ, instance_path(), outbox))
    if not loop:
        forwarders = [own, *(partners.forwarders.values() if partners else ())]
        summary = combined([f.drain() for f in forwarders])
        for f in forwarders:
            f.stop()
        error = summary["error"]
        stats = outbox.stats()
        click.echo(
            f"sent {summary['claimed']}: {summary['accepted']} accepted, {summary['duplicate']} duplicate, "
            f"{summary['rejected']} rejected, {summary['retried']} to retry; "
            f"{stats['outbox_pending']} pending, {stats['outbox_failed']} failed"
            + (f"; {summary['outcomes']} outcome(s) fetched" if summary["outcomes"] else "")
        )
        if error:
            click.echo(f"error: {error}", err=True)
            sys.exit(1)
        return
    _interrupt_on_term()
    own.start()
    if partners is not None:
        partners.start()
        _reload_on_hangup(partners.reload)
    click.echo("forwarding (Ctrl-C to stop)", err=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        own.stop()
        if partners is not None:
            partners.stop()


@main.command()
@click.option("--requeue-failed", is_flag=True, help="Send failed reports again (after fixing the cause).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of text.")
def outbox(requeue_failed: bool, as_json: bool) -> None:
    """Show what waits in the outbox and what failed, and why (never report content).

    Needs only IWF_WIDGET_OUTBOX_URL (or IWF_WIDGET_INSTANCE for the default SQLite file).
    """
    from .serving import instance_path
    from .settings import outbox_url

    box = _configured(
        lambda: _open_outbox(outbox_url(os.environ, instance_path()), COMMAND_WRITE_WAIT), "IWF_WIDGET_OUTBOX_URL"
    )
    try:
        with _outbox_trouble("write to"):
            requeued = box.requeue_failed() if requeue_failed else None
        with _outbox_trouble("read"):
            stats = box.stats()
            entries = box.entries()
    finally:
        box.close()
    if as_json:
        data = {**stats, "entries": entries}
        if requeued is not None:
            data["requeued"] = requeued
        click.echo(json.dumps(data, default=str))
        return
    if requeued is not None:
        click.echo(f"requeued {requeued} failed report(s)")
    last = stats.get("last_forward") or "never"
    click.echo(
        f"pending {stats['outbox_pending']}, failed {stats['outbox_failed']}, "
        f"oldest pending {stats['oldest_pending_age_s']} s, last successful forward {last}"
    )
    if stats["outbox_pending_future"]:
        click.echo(
            f"{stats['outbox_pending_future']} pending report(s) dated in the future: this server's clock "
            "ran fast when they were accepted, so their age is unknown (counted as a minute)"
        )
    now = time.time()
    for e in entries:
        due = max(0, int(e["next_attempt_at"] - now)) if e["state"] == "pending" else None
        line = f"{e['id']}  {e['state']:<7}  created {_iso(e['created'])}  attempts {e['attempts']}"
        if due:
            line += f"  next try in {due} s"
        if e["last_error"]:
            line += f"  last error: {e['last_error']}"
        click.echo(line)


def _iso(epoch: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(int(epoch), timezone.utc).strftime("%Y-%m-%dT%H:%MZ")


def _ask(value: str | None, flag: str, prompt: str, default: str | None = None) -> str:
    """A flag's value, else a prompt when a person is at the terminal, else a one-line failure."""
    if value is not None:
        return value
    if sys.stdin.isatty():
        return str(click.prompt(prompt, default=default, show_default=default is not None))
    if default is not None:
        return default
    raise StartupFailed(f"{flag} is required (or run `iwf-widget init` at a terminal to be asked)")


@main.command()
@click.option("--partner-id", help="This partner's id at the intake, e.g. ma-cyberconfiance.")
@click.option("--intake-url", help="Base URL of the hotline's intake.")
@click.option(
    "--intake-public-key", help="The intake's public key (IWF_WIDGET_INTAKE_PUBLIC_KEY from `iwf-widget keygen`)."
)
@click.option(
    "--allowed-origins", help="Comma-separated origins whose pages embed the form, e.g. https://www.partner.example."
)
@click.option(
    "--widget-url", help="Where the widget will answer, for the snippet [default: http://127.0.0.1:8000/report]."
)
@click.option(
    "-o",
    "--output",
    default=".env",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The settings file to write.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing settings file.")
@click.option("--hub", is_flag=True, help="Print a [partners.<id>] block for a hub's IWF_WIDGET_PARTNERS_FILE instead.")
def init(
    partner_id: str | None,
    intake_url: str | None,
    intake_public_key: str | None,
    allowed_origins: str | None,
    widget_url: str | None,
    output: str,
    force: bool,
    hub: bool,
) -> None:
    """Write a new partner's settings file (mode 0600) with a fresh signing key.

    Prints the line the hotline adds to its intake to register this partner, and
    the snippet to paste into the partner's pages. Values not given as flags are
    asked for at a terminal. The file suits `flask --env-file`, systemd's
    EnvironmentFile= and `set -a; . ./.env`.
    """
    import secrets

    from .settings import ConfigError, Settings

    if hub:
        _init_hub_partner(partner_id, allowed_origins, widget_url)
        return
    if os.path.exists(output) and not force:
        raise StartupFailed(f"{output} exists; pass --force to overwrite it (its signing key will be replaced)")
    values = {
        "IWF_WIDGET_PARTNER_ID": _ask(partner_id, "--partner-id", "Partner id at the intake"),
        "IWF_WIDGET_INTAKE_URL": _ask(intake_url, "--intake-url", "Intake URL"),
        # 256 random bits: the key authenticates every report this partner forwards.
        "IWF_WIDGET_SIGNING_KEY": secrets.token_urlsafe(32),
        "IWF_WIDGET_INTAKE_PUBLIC_KEY": _ask(intake_public_key, "--intake-public-key", "Intake public key"),
        "IWF_WIDGET_ALLOWED_ORIGINS": _ask(
            allowed_origins, "--allowed-origins", "Origins whose pages embed the form (comma-separated)", default=""
        ).replace(" ", ""),
    }
    widget = _ask(widget_url, "--widget-url", "Where the widget will answer", "http://127.0.0.1:8000/report").rstrip(
        "/"
    )
    try:
        Settings.from_mapping(values, "instance")
    except ConfigError as e:
        flag = "--" + e.key.removeprefix("IWF_WIDGET_").lower().replace("_", "-")
        raise StartupFailed(f"{flag}: {str(e).split(': ', 1)[1]}") from None
    lines = ["# iwf-widget settings for this partner, written by `iwf-widget init`. Keep it private."]
    lines += [f"{k}={v}" for k, v in values.items() if v]
    from .db import open_private

    flags = os.O_WRONLY | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = open_private(output, flags)  # 0600 whatever the umask; a missing folder is made 0700
    except FileExistsError:
        raise StartupFailed(f"{output} exists; pass --force to overwrite it") from None
    except OSError as e:
        raise StartupFailed(f"cannot write {output}: {e.strerror}") from None
    os.fchmod(fd, 0o600)  # an overwritten file keeps its old mode otherwise
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    # Quoted, so the line can go as it is into a shell, systemd or dotenv environment file.
    registration = "'" + json.dumps({values["IWF_WIDGET_PARTNER_ID"]: [values["IWF_WIDGET_SIGNING_KEY"]]}) + "'"
    click.echo(f"wrote {output} (mode 0600)")
    click.echo("")
    click.echo("Send the hotline this line, by a private channel; it registers the partner at the intake")
    click.echo("(merged into IWF_INTAKE_PARTNERS there, which maps each partner id to its keys):")
    click.echo(f"IWF_INTAKE_PARTNERS={registration}")
    click.echo("")
    click.echo("Paste this where the form goes, on any page of an allowed origin:")
    click.echo("<div data-iwf-report></div>")
    click.echo(f'<script src="{widget}/embed.js" async></script>')
    click.echo("")
    click.echo(f"Then: set -a; . ./{os.path.basename(output)}; set +a; iwf-widget check")


def _init_hub_partner(partner_id: str | None, allowed_origins: str | None, widget_url: str | None) -> None:
    """The block for the hub's partners file, the intake's line and the snippet to send the partner."""
    import secrets

    from .settings import ORIGIN, PARTNER_ID

    partner = _ask(partner_id, "--partner-id", "Partner id at the intake")
    if not PARTNER_ID.match(partner):
        raise StartupFailed("--partner-id: use lower-case letters, digits, '.', '_' or '-' (at most 64)")
    origins = [
        o.rstrip("/")
        for o in _ask(allowed_origins, "--allowed-origins", "Origins whose pages embed the form (comma-separated)")
        .replace(" ", "")
        .split(",")
        if o
    ]
    for origin in origins:
        if not ORIGIN.match(origin):
            raise StartupFailed(f"--allowed-origins: {origin!r} is not an origin like https://partner.example")
    widget = _ask(widget_url, "--widget-url", "Where the hub's widget answers", "http://127.0.0.1:8000/report")
    key = secrets.token_urlsafe(32)
    click.echo("Add this block to the hub's IWF_WIDGET_PARTNERS_FILE (then kill -HUP the server):")
    click.echo(f"[partners.{partner}]")
    click.echo(f'signing_key = "{key}"')
    click.echo(f"allowed_origins = {json.dumps(origins)}")
    click.echo('# locales = ["fr", "en"], default_locale = "fr", help_text = {fr = "..."}, exit_url = "..."')
    click.echo("")
    click.echo("Merge this into the intake's IWF_INTAKE_PARTNERS:")
    click.echo(f"'{json.dumps({partner: [key]})}'")
    click.echo("")
    click.echo("Send the partner this snippet for its pages:")
    click.echo("<div data-iwf-report></div>")
    click.echo(f'<script src="{widget.rstrip("/")}/p/{partner}/embed.js" async></script>')


@main.command()
@click.option("--page", metavar="URL", help="Also check that the page at URL may embed the form.")
def check(page: str | None) -> None:
    """Check the settings, the outbox and the intake as `serve` would use them.

    One line per check: `ok`, or what is wrong and how to fix it. Exit status 0
    only when every check passes.
    """
    from . import checks
    from .serving import instance_path

    results = checks.run(os.environ, instance_path(), page)
    for result in results:
        click.echo(result.line())
    if not all(r.ok for r in results):
        sys.exit(1)


@main.command()
@host_option
@click.option(
    "--port",
    default=5000,
    show_default=True,
    type=click.IntRange(1, 65533),
    help="The partner site's port; the widget and the intake take the next two.",
)
@click.option("--instance", default=None, help="Folder for the demo's keys and data [default: ./instance].")
def demo(host: str, port: int, instance: str | None) -> None:
    """Run a demo partner site, the widget and a reference intake together, on this machine."""
    from . import demo as demo_module
    from .serving import instance_path

    _logging()
    _interrupt_on_term()
    with _starting():
        demo_module.run(host, port, os.path.abspath(instance) if instance else instance_path(), echo=click.echo)


if __name__ == "__main__":  # pragma: no cover
    main()
