"""Settings: required variables, defaults, validation, .env, and secrets kept out of repr and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings

BASE = {
    "ANTBUDDY_APP_ID": "app",
    "ANTBUDDY_APP_SECRET": "very-secret-value",
    "ANTBUDDY_ACCOUNT_ID": "acct",
    "SLACK_BOT_TOKEN": "xoxb-123-secret",
    "RINGBOT_ALERT_CHANNEL": "C0123",
}


def test_defaults_follow_the_spec() -> None:
    s = load_settings(BASE, dotenv=None)
    assert s.antbuddy_api_url == "https://openapi.antbuddy.com"
    assert s.antbuddy_ws_url == "https://ws.antbuddy.com:5557"
    assert (s.history_date_format, s.history_hash, s.ws_protocol) == ("iso", "auto", "auto")
    assert s.slack_api_url == "https://slack.com/api/"
    assert (s.db_path, s.timezone, s.http_host, s.http_port) == ("./ringbot.db", "Asia/Ho_Chi_Minh", "0.0.0.0", 3000)
    assert (s.reconcile_seconds, s.grace_seconds, s.log_level, s.log_format) == (300, 2.0, "INFO", "text")
    assert s.socket_mode is False


@pytest.mark.parametrize("missing", sorted(BASE))
def test_each_missing_required_variable_is_named(missing: str) -> None:
    env = {k: v for k, v in BASE.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        load_settings(env, dotenv=None)


@pytest.mark.parametrize(
    "var,value",
    [
        ("RINGBOT_HTTP_PORT", "eighty"),
        ("RINGBOT_HTTP_PORT", "70000"),
        ("RINGBOT_GRACE_SECONDS", "-1"),
        ("RINGBOT_RECONCILE_SECONDS", "0"),
        ("ANTBUDDY_WS_PROTOCOL", "smoke-signals"),
        ("ANTBUDDY_HISTORY_DATE_FORMAT", "roman"),
        ("ANTBUDDY_HISTORY_HASH", "md5"),
        ("RINGBOT_TIMEZONE", "Mars/Base"),
        ("SLACK_BOT_TOKEN", "xoxp-user-token"),
        ("SLACK_APP_TOKEN", "xoxb-not-app"),
        ("ANTBUDDY_API_URL", "ftp://x"),
        ("RINGBOT_LOG_FORMAT", "xml"),
        ("RINGBOT_ALERT_CHANNEL", "general"),
        ("RINGBOT_CHANNEL_POSTS_PER_SECOND", "0"),
        ("RINGBOT_CHANNEL_POSTS_PER_SECOND", "fast"),
    ],
)
def test_malformed_values_are_refused_with_the_variable_named(var: str, value: str) -> None:
    with pytest.raises(ConfigError, match=var):
        load_settings({**BASE, var: value}, dotenv=None)


@pytest.mark.parametrize("name", ["#general", "general", "#C0123ABCD", "c0123abcd", "C0123 ABCD"])
def test_a_channel_name_instead_of_its_id_is_refused_saying_where_the_id_is(name: str) -> None:
    for var in ("RINGBOT_ALERT_CHANNEL", "RINGBOT_ADMIN_CHANNEL"):
        with pytest.raises(ConfigError) as err:
            load_settings({**BASE, var: name}, dotenv=None)
        message = str(err.value)
        assert message.startswith(f"{var} must be a channel id like C0123ABCD, got {name!r}")
        assert "Channel ID" in message and "About tab" in message and "\n" not in message


@pytest.mark.parametrize("channel", ["C0123ABCD", "G0PRIVATE", "D0DIRECT"])
def test_a_channel_id_is_taken_as_the_alert_channel(channel: str) -> None:
    assert load_settings({**BASE, "RINGBOT_ALERT_CHANNEL": channel}, dotenv=None).alert_channel == channel


def test_secrets_never_appear_in_repr_or_errors() -> None:
    s = load_settings({**BASE, "SLACK_APP_TOKEN": "xapp-1-topsecret", "RINGBOT_SECRET_KEY": "k" * 44}, dotenv=None)
    text = repr(s)
    for secret in ("very-secret-value", "xoxb-123-secret", "xapp-1-topsecret", "k" * 44):
        assert secret not in text
    assert set(s.secrets()) == {"very-secret-value", "xoxb-123-secret", "xapp-1-topsecret", "k" * 44}
    with pytest.raises(ConfigError) as err:
        load_settings({**BASE, "SLACK_BOT_TOKEN": "xoxp-very-secret-value"}, dotenv=None)
    assert "very-secret-value" not in str(err.value)


def test_dotenv_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "RINGBOT_TIMEZONE=Asia/Bangkok\nRINGBOT_HTTP_PORT=4000\n" + "".join(f"{k}={v}\n" for k, v in BASE.items())
    )
    s = load_settings({"RINGBOT_HTTP_PORT": "5000"}, dotenv=env_file)
    assert s.timezone == "Asia/Bangkok"
    assert s.http_port == 5000


def test_slack_api_url_gets_its_trailing_slash_and_admins_split() -> None:
    s = load_settings({**BASE, "SLACK_API_URL": "http://127.0.0.1:9/api", "RINGBOT_ADMINS": "U1, U2,,U3"}, dotenv=None)
    assert s.slack_api_url == "http://127.0.0.1:9/api/"
    assert s.admins == ("U1", "U2", "U3")


def test_http_mode_needs_a_signing_secret_and_socket_mode_an_app_token() -> None:
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        load_settings(BASE, dotenv=None, mode="http")
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        load_settings(BASE, dotenv=None, mode="socket")
    assert load_settings({**BASE, "SLACK_APP_TOKEN": "xapp-1"}, dotenv=None).socket_mode


def test_every_missing_required_variable_is_named_in_one_error(tmp_path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({}, dotenv=tmp_path / ".env")
    message = str(err.value)
    assert all(var in message for var in BASE)  # BASE holds exactly the required ones
    assert message.endswith(f"are not set (required) (no .env file in {Path.cwd()})")


@pytest.mark.parametrize(
    ("var", "raw", "range_text"),
    [("RINGBOT_HTTP_PORT", "65536", "between 0 and 65535"), ("RINGBOT_RECONCILE_SECONDS", "0", "between 1 and")],
)
def test_a_range_error_names_the_range(var: str, raw: str, range_text: str) -> None:
    with pytest.raises(ConfigError, match=range_text):
        load_settings({**BASE, var: raw}, dotenv=None)


def test_the_dial_policy_settings_default_to_vietnam_only() -> None:
    s = load_settings(BASE, dotenv=None)
    assert (s.country, s.dial_allow, s.dial_deny, s.admin_channel) == ("VN", (), (), "")


def test_dial_rules_are_read_as_regions_and_prefixes_in_their_stored_form() -> None:
    s = load_settings(
        {
            **BASE,
            "RINGBOT_COUNTRY": "gb",
            "RINGBOT_DIAL_ALLOW": "us, VN; +44 20, 00 33 1,1900,us",
            "RINGBOT_DIAL_DENY": "+882,+870",
            "RINGBOT_ADMIN_CHANNEL": "C0ADMINS",
        },
        dotenv=None,
    )
    assert s.country == "GB"
    assert s.dial_allow == ("US", "VN", "+4420", "+331", "1900")
    assert s.dial_deny == ("+882", "+870")
    assert s.admin_channel == "C0ADMINS"


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("RINGBOT_COUNTRY", "Vietnam"),
        ("RINGBOT_COUNTRY", "XX"),
        ("RINGBOT_DIAL_ALLOW", "GB,UK"),
        ("RINGBOT_DIAL_ALLOW", "+44x20"),
        ("RINGBOT_DIAL_ALLOW", "+"),
        ("RINGBOT_DIAL_DENY", "<!channel>"),
        ("RINGBOT_ADMIN_CHANNEL", "admins"),
    ],
)
def test_malformed_dial_settings_are_refused_with_the_variable_named(var: str, value: str) -> None:
    with pytest.raises(ConfigError, match=var):
        load_settings({**BASE, var: value}, dotenv=None)


# -- language -----------------------------------------------------------------------------------------------
def test_language_defaults_to_english_and_reads_channel_overrides(tmp_path: Path) -> None:
    from tests.conftest import make_settings

    assert make_settings(tmp_path).language == "en"
    s = make_settings(tmp_path, RINGBOT_LANGUAGE="VI", RINGBOT_CHANNEL_LANGUAGES="C0SALES=en; C0CSKH=vi")
    assert (s.language, s.channel_languages) == ("vi", (("C0SALES", "en"), ("C0CSKH", "vi")))


@pytest.mark.parametrize(
    ("var", "value"),
    [("RINGBOT_LANGUAGE", "fr"), ("RINGBOT_CHANNEL_LANGUAGES", "C0SALES"), ("RINGBOT_CHANNEL_LANGUAGES", "x=vi")],
)
def test_an_unknown_language_is_refused_with_the_variable_named(tmp_path: Path, var: str, value: str) -> None:
    from tests.conftest import make_settings

    with pytest.raises(ConfigError, match=var):
        make_settings(tmp_path, **{var: value})


# -- queue health and the daily digest ----------------------------------------------------------------------
def test_queue_health_defaults_and_digest_time() -> None:
    s = load_settings(BASE, dotenv=None)
    assert (s.sla_seconds, s.digest_at, s.queue_cooldown_seconds) == (20, "18:00", 600)
    assert load_settings({**BASE, "RINGBOT_DIGEST_AT": "off"}, dotenv=None).digest_at == ""
    assert load_settings({**BASE, "RINGBOT_DIGEST_AT": "7:05"}, dotenv=None).digest_at == "07:05"


@pytest.mark.parametrize(
    "var,value",
    [("RINGBOT_DIGEST_AT", "6pm"), ("RINGBOT_DIGEST_AT", "24:00"), ("RINGBOT_SLA_SECONDS", "-3"),
     ("RINGBOT_QUEUE_COOLDOWN_SECONDS", "soon")],
)  # fmt: skip
def test_queue_health_settings_are_checked(var: str, value: str) -> None:
    with pytest.raises(ConfigError, match=var):
        load_settings({**BASE, var: value}, dotenv=None)


def test_retention_is_400_days_unless_set() -> None:
    assert load_settings(BASE, dotenv=None).retention_days == 400
    assert load_settings({**BASE, "RINGBOT_RETENTION_DAYS": "90"}, dotenv=None).retention_days == 90


@pytest.mark.parametrize("value", ["a year", "12.5", "30", "0", "-1", "4000"])
def test_a_retention_that_is_not_a_whole_number_of_days_from_31_to_3650_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="RINGBOT_RETENTION_DAYS"):
        load_settings({**BASE, "RINGBOT_RETENTION_DAYS": value}, dotenv=None)


# -- the secret keys ----------------------------------------------------------------------------------
FERNET = "kP0gG2v4QZ6q2y7b8y1u0hS3X5c4W6e8r0t2y4u6i8o="


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"RINGBOT_SECRET_KEY": "too-short"}, "RINGBOT_SECRET_KEY is neither a Fernet key nor a passphrase"),
        ({"RINGBOT_SECRET_KEY": FERNET[:30] + FERNET[31:]}, "RINGBOT_SECRET_KEY looks like a Fernet key but is not"),
        ({"RINGBOT_SECRET_KEY": FERNET, "RINGBOT_SECRET_KEY_OLD": "too-short"}, "RINGBOT_SECRET_KEY_OLD is neither"),
        ({"RINGBOT_SECRET_KEY_OLD": FERNET}, "RINGBOT_SECRET_KEY_OLD is set but RINGBOT_SECRET_KEY is not"),
    ],
)
def test_a_malformed_secret_key_is_a_configuration_error_that_never_shows_the_key(
    env: dict[str, str], needle: str
) -> None:
    with pytest.raises(ConfigError, match=needle) as err:
        load_settings({**BASE, **env}, dotenv=None)
    for value in env.values():
        assert value not in str(err.value)


def test_fernet_keys_passphrases_and_an_old_key_ringbot_once_stretched_are_accepted() -> None:
    mistyped = FERNET[:30] + FERNET[31:]
    s = load_settings({**BASE, "RINGBOT_SECRET_KEY": FERNET, "RINGBOT_SECRET_KEY_OLD": mistyped}, dotenv=None)
    assert (s.secret_key, s.secret_key_old) == (FERNET, mistyped)
    assert mistyped in s.secrets() and mistyped not in repr(s)
    passphrase = load_settings({**BASE, "RINGBOT_SECRET_KEY": "  a long enough passphrase  "}, dotenv=None)
    assert passphrase.secret_key == "a long enough passphrase"
