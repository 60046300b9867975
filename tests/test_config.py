"""sync_server.config: one typed table from TOML, WATCHPARTY_* variables and flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sync_server.config import (
    SETTINGS,
    Config,
    ConfigError,
    config_fields,
    load_config,
    resolve_db_path,
)


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "watchparty.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_sources() -> None:
    assert load_config(environ={}) == Config()


def test_settings_table_and_config_agree() -> None:
    assert config_fields() == [s.name for s in SETTINGS]
    defaults = Config()
    for setting in SETTINGS:
        value = getattr(defaults, setting.name)
        assert value == setting.default, setting.name
        assert type(value) is type(setting.default), setting.name


def test_precedence_toml_then_env_then_overrides(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'host = "0.0.0.0"\nport = 9000\nmax_rooms = 7\n')
    env = {"WATCHPARTY_PORT": "9100", "WATCHPARTY_MAX_ROOMS": "8"}
    assert load_config(toml_path=path, environ={}).port == 9000
    from_env = load_config(toml_path=path, environ=env)
    assert (from_env.host, from_env.port, from_env.max_rooms) == ("0.0.0.0", 9100, 8)
    flagged = load_config(toml_path=path, environ=env, overrides={"port": 9200})
    assert (flagged.host, flagged.port, flagged.max_rooms) == ("0.0.0.0", 9200, 8)


def test_none_override_is_ignored(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "port = 9000\n")
    config = load_config(
        toml_path=path, environ={"WATCHPARTY_DEMO": "no"}, overrides={"port": None, "demo": None}
    )
    assert config.port == 9000
    assert config.demo is False


def test_watchparty_table_form(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[watchparty]\nport = 9001\nlog_format = "json"\n')
    config = load_config(toml_path=path, environ={})
    assert (config.port, config.log_format) == (9001, "json")


def test_environment_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHPARTY_MAX_ROOMS", "12")
    assert load_config().max_rooms == 12


def test_unrelated_variables_are_skipped() -> None:
    env = {"PATH": "/bin", "XWATCHPARTY_PORT": "1"}
    assert load_config(environ=env) == Config()


def test_watchparty_config_names_the_file(tmp_path: Any) -> None:
    path = tmp_path / "wp.toml"
    path.write_text("port = 9100\n")
    env = {"WATCHPARTY_CONFIG": str(path), "WATCHPARTY_HOST": "0.0.0.0"}
    config = load_config(environ=env)
    assert (config.port, config.host) == (9100, "0.0.0.0")
    # An explicit path wins over the variable.
    other = tmp_path / "other.toml"
    other.write_text("port = 9200\n")
    assert load_config(toml_path=other, environ=env).port == 9200


def test_keys_outside_the_watchparty_table_are_an_error(tmp_path: Any) -> None:
    path = tmp_path / "wp.toml"
    path.write_text("port = 1\n[watchparty]\nhost = '0.0.0.0'\n")
    with pytest.raises(ConfigError, match="outside the \\[watchparty\\] table: port"):
        load_config(toml_path=path, environ={})


def test_ports_and_chat_length_have_maximums() -> None:
    with pytest.raises(ConfigError, match="<= 65535"):
        load_config(environ={}, overrides={"port": 70000})
    with pytest.raises(ConfigError, match="<= 10000"):
        load_config(environ={}, overrides={"max_chat_chars": 20000})


@pytest.mark.parametrize(
    ("kwargs", "source"),
    [
        ({"environ": {"WATCHPARTY_NO_SUCH": "1"}}, "environment variable WATCHPARTY_NO_SUCH"),
        ({"environ": {}, "overrides": {"no_such": 1}}, "--no-such"),
    ],
)
def test_unknown_key_names_key_and_source(kwargs: dict[str, Any], source: str) -> None:
    with pytest.raises(ConfigError, match="unknown setting 'no_such'") as info:
        load_config(**kwargs)
    assert source in str(info.value)


def test_unknown_toml_key_names_key_and_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "port = 1\nprot = 2\n")
    with pytest.raises(ConfigError, match="unknown setting 'prot'") as info:
        load_config(toml_path=path, environ={})
    assert f"config file {path}" in str(info.value)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('port = "abc"', "'port' .* must be int, got 'abc'"),
        ("port = 80.5", "'port' .* must be int, got float 80.5"),
        ("port = true", "'port' .* must be int, got bool"),
        ("demo = 1", "'demo' .* must be bool, got int"),
        ('demo = "maybe"', "'demo' .* must be bool, got 'maybe'"),
        ("host = 5", "'host' .* must be str, got int"),
        ("heartbeat_interval_s = [1]", "'heartbeat_interval_s' .* must be float, got list"),
    ],
)
def test_bad_type_is_an_error_naming_the_key(tmp_path: Path, toml: str, message: str) -> None:
    path = write_toml(tmp_path, toml + "\n")
    with pytest.raises(ConfigError, match=message):
        load_config(toml_path=path, environ={})


def test_numbers_from_strings_and_ints_for_floats(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "heartbeat_interval_s = 3\n")
    config = load_config(toml_path=path, environ={"WATCHPARTY_MAX_LEAD_MS": "750.5"})
    assert config.heartbeat_interval_s == 3.0
    assert type(config.heartbeat_interval_s) is float
    assert config.max_lead_ms == 750.5
    with pytest.raises(ConfigError, match=r"must be int, got '1\.5'"):
        load_config(environ={"WATCHPARTY_PORT": "1.5"})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("yes", True),
        ("1", True),
        ("true", True),
        (" ON ", True),
        ("0", False),
        ("no", False),
        ("False", False),
        ("off", False),
    ],
)
def test_bool_parsing_from_env(raw: str, expected: bool) -> None:
    default = Config().demo
    assert default is True
    assert load_config(environ={"WATCHPARTY_DEMO": raw}).demo is expected
    assert load_config(environ={"WATCHPARTY_GUEST_ROOMS": raw}).guest_rooms is expected


@pytest.mark.parametrize("raw", ["", "maybe", "2", "y"])
def test_bad_bool_from_env(raw: str) -> None:
    with pytest.raises(ConfigError, match="environment variable WATCHPARTY_DEMO"):
        load_config(environ={"WATCHPARTY_DEMO": raw})


@pytest.mark.parametrize(
    ("name", "value", "ok"),
    [
        ("port", -1, False),
        ("port", 0, True),
        ("max_frame_bytes", 255, False),
        ("max_frame_bytes", 256, True),
        ("heartbeat_interval_s", 0.049, False),
        ("heartbeat_interval_s", 0.05, True),
        ("send_queue_max", 3, False),
        ("reconnect_grace_s", 0.0, True),
        ("reconnect_grace_s", -0.5, False),
    ],
)
def test_minimum_is_enforced(name: str, value: Any, ok: bool) -> None:
    if ok:
        assert getattr(load_config(environ={}, overrides={name: value}), name) == value
    else:
        with pytest.raises(ConfigError, match=f"'{name}' in --.* must be >= "):
            load_config(environ={}, overrides={name: value})


@pytest.mark.parametrize("raw", ["nan", "inf", "-inf", "NaN"])
def test_non_finite_floats_are_refused(raw: str) -> None:
    with pytest.raises(ConfigError, match="finite"):
        load_config(environ={"WATCHPARTY_HEARTBEAT_INTERVAL_S": raw})


def test_non_finite_floats_are_refused_in_toml(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "ready_timeout_s = nan\n")
    with pytest.raises(ConfigError, match=r"'ready_timeout_s' .* finite"):
        load_config(toml_path=path, environ={})


def test_log_level_and_format_are_validated() -> None:
    assert load_config(environ={"WATCHPARTY_LOG_LEVEL": "debug"}).log_level == "debug"
    assert load_config(environ={"WATCHPARTY_LOG_LEVEL": "WARNING"}).log_level == "WARNING"
    with pytest.raises(ConfigError, match="log_level"):
        load_config(environ={"WATCHPARTY_LOG_LEVEL": "TRACE"})
    assert load_config(environ={"WATCHPARTY_LOG_FORMAT": "json"}).log_format == "json"
    with pytest.raises(ConfigError, match=r"log_format.*'xml'"):
        load_config(environ={"WATCHPARTY_LOG_FORMAT": "xml"})
    with pytest.raises(ConfigError, match="log_format"):
        load_config(environ={"WATCHPARTY_LOG_FORMAT": "JSON"})


def test_secret_key_needs_32_bytes_when_set() -> None:
    assert load_config(environ={"WATCHPARTY_SECRET_KEY": ""}).secret_key == ""
    assert load_config(environ={"WATCHPARTY_SECRET_KEY": "k" * 32}).secret_key == "k" * 32
    assert load_config(environ={"WATCHPARTY_SECRET_KEY": "é" * 16}).secret_key == "é" * 16
    with pytest.raises(ConfigError, match=r"secret_key.*32 bytes"):
        load_config(environ={"WATCHPARTY_SECRET_KEY": "k" * 31})


def test_unreadable_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigError, match="cannot read config file") as info:
        load_config(toml_path=missing, environ={})
    assert str(missing) in str(info.value)
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(toml_path=tmp_path, environ={})  # a directory


def test_invalid_toml(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "port = = 9000\n")
    with pytest.raises(ConfigError, match="is not valid TOML") as info:
        load_config(toml_path=path, environ={})
    assert str(path) in str(info.value)


def test_with_changes_validates_and_copies() -> None:
    base = Config()
    changed = base.with_changes(port="9000", demo="off", heartbeat_interval_s=2)
    assert (changed.port, changed.demo, changed.heartbeat_interval_s) == (9000, False, 2.0)
    assert base.port == 8765  # frozen: the original is untouched
    with pytest.raises(ConfigError, match="'port' in argument must be >= 0"):
        base.with_changes(port=-5)
    with pytest.raises(ConfigError, match="unknown setting 'nope' in argument"):
        base.with_changes(nope=1)
    with pytest.raises(ConfigError, match="'demo' in argument must be bool"):
        base.with_changes(demo=1)


def test_resolve_db_path_is_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_db_path(Config(db="data/wp.db")) == tmp_path.resolve() / "data" / "wp.db"


@pytest.mark.parametrize(
    "url",
    ["watch.example.org", "ftp://watch.example.org", "https://", "https://h/?a=1", "https://h/#x"],
)
def test_public_web_url_must_be_an_http_base_url(url: str) -> None:
    with pytest.raises(ConfigError, match="public_web_url"):
        load_config(environ={"WATCHPARTY_PUBLIC_WEB_URL": url})


@pytest.mark.parametrize(
    "url", ["", "http://127.0.0.1:8000", "https://watch.example.org/", "https://h/sub/path"]
)
def test_public_web_url_accepts_http_base_urls(url: str) -> None:
    assert load_config(environ={"WATCHPARTY_PUBLIC_WEB_URL": url}).public_web_url == url
