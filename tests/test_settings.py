"""Settings are read once at start-up; a bad one stops start-up with its key named."""

from __future__ import annotations

import pytest

from iwf_widget import ConfigError
from iwf_widget.settings import Settings

BASE = {
    "IWF_WIDGET_PARTNER_ID": "ma-cyberconfiance",
    "IWF_WIDGET_INTAKE_URL": "https://intake.example/",
    "IWF_WIDGET_SIGNING_KEY": "k" * 32,
}


@pytest.fixture
def config(keypair):
    return {**BASE, "IWF_WIDGET_INTAKE_PUBLIC_KEY": keypair[1]}


@pytest.mark.parametrize(
    "key, value",
    [
        ("IWF_WIDGET_PARTNER_ID", None),
        ("IWF_WIDGET_PARTNER_ID", "Has Spaces"),
        ("IWF_WIDGET_INTAKE_URL", None),
        ("IWF_WIDGET_INTAKE_URL", "ftp://intake.example"),
        ("IWF_WIDGET_SIGNING_KEY", None),
        ("IWF_WIDGET_SIGNING_KEY", "short"),
        ("IWF_WIDGET_INTAKE_PUBLIC_KEY", None),
        ("IWF_WIDGET_INTAKE_PUBLIC_KEY", "bm90IGEga2V5"),
        ("IWF_WIDGET_ALLOWED_ORIGINS", "https://partner.example/path"),
        ("IWF_WIDGET_LOCALES", "fr,xx"),
        ("IWF_WIDGET_DEFAULT_LOCALE", "ar"),
        ("IWF_WIDGET_EXIT_URL", "javascript:alert(1)"),
        ("IWF_WIDGET_MIN_FILL_SECONDS", "soon"),
        ("IWF_WIDGET_MIN_FILL_SECONDS", -1),
        ("IWF_WIDGET_RATE_LIMIT", "lots"),
    ],
)
def test_bad_or_missing_setting_names_its_key(config, key, value):
    if key == "IWF_WIDGET_DEFAULT_LOCALE":
        config["IWF_WIDGET_LOCALES"] = "fr,en"
    if value is None:
        config.pop(key, None)
    else:
        config[key] = value
    with pytest.raises(ConfigError) as info:
        Settings.from_mapping(config, "/tmp")
    assert info.value.key == key
    assert str(info.value).startswith(key + ":")


def test_lists_and_numbers_accept_both_shapes(config):
    as_strings = Settings.from_mapping(
        {
            **config,
            "IWF_WIDGET_LOCALES": "fr, ar,en",
            "IWF_WIDGET_ALLOWED_ORIGINS": "https://a.example,http://b.example:8080",
            "IWF_WIDGET_SIGNING_KEY": "n" * 20 + ",o" + "o" * 20,
            "IWF_WIDGET_MIN_FILL_SECONDS": "2.5",
        },
        "/tmp",
    )
    as_values = Settings.from_mapping(
        {
            **config,
            "IWF_WIDGET_LOCALES": ["fr", "ar", "en"],
            "IWF_WIDGET_ALLOWED_ORIGINS": ["https://a.example", "http://b.example:8080"],
            "IWF_WIDGET_SIGNING_KEY": ["n" * 20, "o" * 21],
            "IWF_WIDGET_MIN_FILL_SECONDS": 2.5,
        },
        "/tmp",
    )
    assert as_strings == as_values
    assert as_values.locales == ("fr", "ar", "en")
    assert as_values.signing_keys[0] == "n" * 20, "the first key signs"


def test_defaults_follow_the_contract(config, tmp_path):
    s = Settings.from_mapping(config, str(tmp_path))
    assert len(s.locales) == 17 and s.default_locale == "en"
    assert s.min_fill_seconds == 3
    assert s.outbox_url == f"sqlite:///{tmp_path}/iwf_widget_outbox.db"
    assert s.allowed_origins == ()
    assert s.rate_limit and s.rate_limit != "off"
    assert s.intake_url == "https://intake.example"


def test_rate_limit_off_disables_every_limit_unless_a_partner_limit_is_set(config):
    off = Settings.from_mapping({**config, "IWF_WIDGET_RATE_LIMIT": "off"}, "/tmp")
    assert off.rate_limit is None and off.partner_rate_limit is None
    partner_only = Settings.from_mapping(
        {**config, "IWF_WIDGET_RATE_LIMIT": "off", "IWF_WIDGET_PARTNER_RATE_LIMIT": "100/minute"}, "/tmp"
    )
    assert partner_only.rate_limit is None and partner_only.partner_rate_limit == "100/minute"
    assert Settings.from_mapping(config, "/tmp").partner_rate_limit


def test_widget_refuses_to_start_with_a_bad_setting(make_app):
    with pytest.raises(ConfigError, match="IWF_WIDGET_INTAKE_URL"):
        make_app(IWF_WIDGET_INTAKE_URL="not a url")
