"""The report form: the contract's fields, validated strictly, messages localized."""
from __future__ import annotations

import typing as t
import unicodedata

from flask import g
from wtforms import Form, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.meta import DefaultMeta
from wtforms.validators import Email, Length, Optional, StopValidation, ValidationError

from . import addresses
from .i18n import gettext as _
from .i18n import lazy_gettext as _l
from .i18n import ngettext, number
from .tokens import FormTokenCSRF

DESCRIPTION_MAX = 2000
EMAIL_MAX = 254

CONTENT_KINDS = [
    SelectChoice("images", _l("Photos or images")),
    SelectChoice("videos", _l("Videos")),
    SelectChoice("generated", _l("Drawn, animated or computer-generated images")),
    SelectChoice("unsure", _l("I am not sure")),
]
WHERE_SEEN = [
    SelectChoice("website", _l("A website")),
    SelectChoice("social", _l("Social media or an app")),
    SelectChoice("forum", _l("A forum, chat or comment section")),
    SelectChoice("search", _l("Search results")),
    SelectChoice("other", _l("Somewhere else")),
]


def clean_text(value: t.Any) -> t.Any:
    """Free text in NFC, without control characters other than tab and line breaks.

    Text pasted from documents can carry form feeds and similar debris; a NUL
    cannot be stored in some databases at all. People never mean them.
    """
    if not isinstance(value, str):
        return value
    value = unicodedata.normalize("NFC", value)
    return "".join(ch for ch in value if ch in "\t\n\r" or unicodedata.category(ch) != "Cc")


def has_control_characters(text: str) -> bool:
    """True when ``text`` holds what :func:`clean_text` removes."""
    return any(ch not in "\t\n\r" and unicodedata.category(ch) == "Cc" for ch in text)


def address_message(kind: str, line: int) -> str:
    messages = {
        "too_long": _("The address on line %(line)s is too long."),
        "characters": _("The address on line %(line)s contains hidden or control characters."),
        "scheme": _("The address on line %(line)s must start with http:// or https://."),
        "invalid": _("Line %(line)s is not a web address, for example https://example.com/page."),
    }
    return messages.get(kind, messages["invalid"]) % {"line": number(line)}


class RequiredChoice(RadioField):
    """A radio group whose "nothing chosen" error says what to choose."""

    def __init__(self, label: t.Any, choices: t.Any, required_message: t.Any, **kwargs: t.Any) -> None:
        kwargs.setdefault("invalid_choice_message", _l("Choose one of the options shown."))
        super().__init__(label, choices=choices, **kwargs)
        self.required_message = required_message

    def pre_validate(self, form: Form) -> None:
        if not self.data:
            raise StopValidation(str(self.required_message))
        super().pre_validate(form)


class ReportMeta(DefaultMeta):
    csrf = True
    csrf_class = FormTokenCSRF
    csrf_field_name = "iwf_token"
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
        filters=[clean_text],
    )
    contact_email = StringField(
        _l("Your email address (optional)"),
        validators=[
            Optional(),
            Length(max=EMAIL_MAX, message=_l("This email address is too long.")),
            Email(
                check_deliverability=False,
                message=_l("Enter an email address like name@example.com, or leave this empty."),
            ),
        ],
    )
    # The honeypot: hidden from people and from assistive technology, tempting to bots.
    homepage = StringField(_l("Leave this field empty"))

    #: The normalized, de-duplicated addresses, once validated.
    addresses: list[str]
    token_claims: t.Any = None
    token_problem: str | None = None

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
                ngettext(
                    "Enter at most %(num)s address, one a line.",
                    "Enter at most %(num)s addresses, one a line.",
                    addresses.MAX_ADDRESSES,
                )
            )
        self.addresses = list(seen)

    def validate_description(self, field: TextAreaField) -> None:
        if field.data and len(field.data) > DESCRIPTION_MAX:
            raise ValidationError(
                _("Please shorten this to %(max)s characters.", max=number(DESCRIPTION_MAX))
            )

    def validate_contact_email(self, field: StringField) -> None:
        # Bytes that were not UTF-8 arrive as U+FFFD: no reply could reach that address.
        if field.data and "\ufffd" in field.data:
            raise ValidationError(_("Enter an email address like name@example.com, or leave this empty."))

    def validate_homepage(self, field: StringField) -> None:
        if field.data:
            raise ValidationError(_("This form could not be checked."))


def error_fields(form: ReportForm) -> list[tuple[str, str]]:
    """(field id, message) for the summary at the top, in the form's order."""
    out = []
    for name in ("urls", "content_kind", "where_seen", "description", "contact_email"):
        for message in form[name].errors:
            out.append((name, str(message)))
    return out
