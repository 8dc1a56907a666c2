"""The report form: the contract's fields, validated strictly, messages localized."""

from __future__ import annotations

import typing as t

from flask import g
from wtforms import Form, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.meta import DefaultMeta
from wtforms.validators import Email, Optional, StopValidation, ValidationError

from . import addresses, bidi, report
from .i18n import gettext as _
from .i18n import lazy_gettext as _l
from .i18n import ngettext, number
from .report import DESCRIPTION_MAX, EMAIL_MAX

__all__ = ["CONTENT_KINDS", "DESCRIPTION_MAX", "EMAIL_MAX", "WHERE_SEEN", "ReportForm", "error_fields"]

_KIND_LABELS = {
    # TRANSLATORS: The answers to "What did the content show?".
    "images": _l("Photos or images"),
    # TRANSLATORS: An answer to "What did the content show?".
    "videos": _l("Videos"),
    "generated": _l("Drawings, cartoons or images made with AI or a computer"),
    # TRANSLATORS: An answer to "What did the content show?".
    "unsure": _l("I am not sure"),
}
_PLACE_LABELS = {
    # TRANSLATORS: The answers to "Where did you see it?".
    "website": _l("A website"),
    "social": _l("Social media or an app"),
    "forum": _l("A forum, chat or comment section"),
    # TRANSLATORS: An answer to "Where did you see it?": in a search engine's results.
    "search": _l("Search results"),
    "other": _l("Somewhere else"),
}
#: The report's choices (report.py), in its order, with the labels people read.
CONTENT_KINDS = [SelectChoice(value, _KIND_LABELS[value]) for value in report.CONTENT_KINDS]
WHERE_SEEN = [SelectChoice(value, _PLACE_LABELS[value]) for value in report.WHERE_SEEN]

# TRANSLATORS: name@example.com is an example address: keep it as it is.
EMAIL_EXAMPLE = _l("Enter an email address like name@example.com, or leave this empty.")


def _without_edge_marks(value: t.Any) -> t.Any:
    """An address copied from a right-to-left app may carry bidi marks at its ends."""
    return bidi.strip_edge_marks(value) if isinstance(value, str) else value


def _email_bounds(form: Form, field: StringField) -> None:
    """Length and characters first, on what arrived, before the email parser sees it."""
    value = field.data or ""
    if len(value) > EMAIL_MAX:
        raise StopValidation(
            # TRANSLATORS: %(num)s is the most characters an email address may have.
            ngettext(
                "This email address is too long: it can have up to %(num)s character.",
                "This email address is too long: it can have up to %(num)s characters.",
                EMAIL_MAX,
            )
        )
    # Bytes that were not UTF-8 arrive as U+FFFD: no reply could reach that address.
    # Hidden characters would make the address differ from the one the person sees.
    if "\ufffd" in value or report.has_hidden_characters(value) or not report.is_stream_safe(value):
        raise StopValidation(str(EMAIL_EXAMPLE))


def address_message(kind: str, line: int) -> str:
    """Why the address on ``line`` of the box was refused, in the request's language."""
    at = number(line)
    if kind == "too_long":
        # TRANSLATORS: %(line)s is a line number in the "Web addresses" box (one address
        # a line); %(num)s is the most characters a web address may have.
        return ngettext(
            "The address on line %(line)s is too long: an address can have up to %(num)s character.",
            "The address on line %(line)s is too long: an address can have up to %(num)s characters.",
            addresses.MAX_LENGTH,
            line=at,
        )
    messages = {
        # TRANSLATORS: %(line)s is a line number. The invisible characters (such as
        # direction marks) came with the copied address.
        "characters": _("The address on line %(line)s has hidden characters in it. Please type it in again."),
        # TRANSLATORS: %(line)s is a line number. Keep http:// and https:// as they are.
        "scheme": _("The address on line %(line)s must start with http:// or https://."),
        # TRANSLATORS: %(line)s is a line number; https://example.com/page is an example
        # address: keep it as it is.
        "invalid": _(
            "Line %(line)s does not look like a web address. A web address looks like https://example.com/page."
        ),
    }
    return messages.get(kind, messages["invalid"]) % {"line": at}


class RequiredChoice(RadioField):
    """A radio group whose "nothing chosen" error says what to choose."""

    def __init__(self, label: t.Any, choices: t.Any, required_message: t.Any, **kwargs: t.Any) -> None:
        # TRANSLATORS: An answer arrived that is not one of the options (the page was changed).
        kwargs.setdefault("invalid_choice_message", _l("Choose one of the options shown."))
        super().__init__(label, choices=choices, **kwargs)
        self.required_message = required_message

    def pre_validate(self, form: Form) -> None:
        if not self.data:
            raise StopValidation(str(self.required_message))
        super().pre_validate(form)


class ReportMeta(DefaultMeta):
    # The form token is checked before the form is built (submission.py, tokens.py).
    csrf = False
    cache_translations = False

    def get_translations(self, form):  # type: ignore[no-untyped-def]
        return g.get("iwf_translations")


class ReportForm(Form):
    Meta = ReportMeta

    urls = TextAreaField(_l("Web addresses"))
    content_kind = RequiredChoice(
        _l("What did the content show?"), CONTENT_KINDS, _l("Choose what the content showed.")
    )
    where_seen = RequiredChoice(_l("Where did you see it?"), WHERE_SEEN, _l("Choose where you saw it."))
    description = TextAreaField(
        _l("Anything else that helps us find it (optional)"),
        validators=[Optional()],
    )
    contact_email = StringField(
        _l("Your email address (optional)"),
        filters=[_without_edge_marks],
        validators=[Optional(), _email_bounds, Email(check_deliverability=False, message=EMAIL_EXAMPLE)],
    )
    # The honeypot: hidden from people and from assistive technology, tempting to bots.
    # TRANSLATORS: The label of a trap field for automated programs.
    # People see it only on a page shown without its styles.
    homepage = StringField(_l("Leave this field empty"))

    #: The normalized, de-duplicated addresses, once validated.
    addresses: list[str]

    def validate_urls(self, field: TextAreaField) -> None:
        lines = addresses.split_lines(field.data or "")
        if not lines:
            raise ValidationError(_("Enter the web address where you saw the content."))
        seen: dict[str, None] = {}
        for line_no, line in lines[: addresses.MAX_LINES]:
            try:
                seen.setdefault(addresses.normalize(line), None)
            except addresses.AddressError as e:
                raise ValidationError(address_message(e.kind, line_no)) from None
        if len(seen) > addresses.MAX_ADDRESSES or len(lines) > addresses.MAX_LINES:
            raise ValidationError(
                # TRANSLATORS: %(num)s is the most addresses one report can hold.
                ngettext(
                    "You can send up to %(num)s address at a time. Remove some, and send the others in another report.",
                    "You can send up to %(num)s addresses at a time. "
                    "Remove some, and send the others in another report.",
                    addresses.MAX_ADDRESSES,
                )
            )
        self.addresses = list(seen)

    def validate_description(self, field: TextAreaField) -> None:
        raw = field.data or ""
        problem = report.text_problem(raw, DESCRIPTION_MAX)
        if problem == "marks":
            raise ValidationError(
                # TRANSLATORS: The description has a long run of marks (accents,
                # vowel signs) on one letter, which no real text needs.
                _("This text has too many accents or marks in a row. Remove some and send it again.")
            )
        cleaned = report.clean_text(raw) if problem is None else raw
        if problem == "too_long" or len(cleaned) > DESCRIPTION_MAX:
            raise ValidationError(
                # TRANSLATORS: %(num)s is the most characters the description may have.
                ngettext(
                    "Please shorten this to %(num)s character.",
                    "Please shorten this to %(num)s characters.",
                    DESCRIPTION_MAX,
                )
            )
        field.data = cleaned

    def validate_homepage(self, field: StringField) -> None:
        # Never shown: a filled honeypot is refused before the answers are validated
        # (submission.py), and error_fields() leaves this field out.
        if field.data:
            raise ValidationError("the hidden field was filled in")


def error_fields(form: ReportForm) -> list[tuple[str, str]]:
    """(field id, message) for the summary at the top, in the form's order."""
    out = []
    for name in ("urls", "content_kind", "where_seen", "description", "contact_email"):
        for message in form[name].errors:
            out.append((name, str(message)))
    return out
