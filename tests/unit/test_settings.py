"""hub.settings: defaults, validation of HUB_* variables, Kafka client options."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from hub.errors import ConfigError, SettingsError
from hub.settings import PROJECT_ROOT, load_settings


def test_defaults_load_without_any_variable() -> None:
    settings = load_settings()

    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.bootstrap_servers == ["127.0.0.1:9092"]
    assert settings.kafka_security_protocol == "PLAINTEXT"
    assert settings.kafka_sasl_mechanism is None
    assert settings.kafka_sasl_username is None
    assert settings.kafka_sasl_password is None
    assert settings.environment == "local"
    assert settings.app_id == "wuchang-hub"
    assert settings.http_host == "127.0.0.1"
    assert settings.http_port == 8080
    assert settings.log_level == "INFO"
    assert settings.topics_dir == PROJECT_ROOT / "topics"
    assert settings.topics_dir.is_dir()
    assert settings.parties_file.is_file()
    assert settings.parties_file.name == "parties.yaml"


def test_environment_variables_override_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_HTTP_PORT", "9090")
    monkeypatch.setenv("HUB_ENVIRONMENT", "production")
    monkeypatch.setenv("HUB_KAFKA_BOOTSTRAP", " broker-1:9092, broker-2:9093 ,")
    monkeypatch.setenv("HUB_TOPICS_DIR", "/srv/topics")
    monkeypatch.setenv("HUB_REGISTRY_CREDENTIALS", "ops:" + "ab" * 32)

    settings = load_settings()

    assert settings.http_port == 9090
    assert settings.environment == "production"
    assert settings.kafka_bootstrap == "broker-1:9092,broker-2:9093"
    assert settings.bootstrap_servers == ["broker-1:9092", "broker-2:9093"]
    assert settings.topics_dir == Path("/srv/topics")


@pytest.mark.parametrize("value", ["abc", "70000", "0", "-1"])
def test_bad_http_port_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("HUB_HTTP_PORT", value)

    with pytest.raises(SettingsError) as caught:
        load_settings()

    assert "HUB_HTTP_PORT" in caught.value.message
    assert "HUB_HTTP_PORT" in str(caught.value)
    # Only the bad variable is blamed.
    assert "HUB_KAFKA_BOOTSTRAP" not in caught.value.message


def test_settings_error_is_a_config_error_and_not_retriable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUB_HTTP_PORT", "abc")

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert isinstance(caught.value, SettingsError)
    assert caught.value.retriable is False
    # Raised `from None`: no pydantic ValidationError chained behind the message.
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__ is True


@pytest.mark.parametrize(
    "value", ["nohost", "host:notaport", "host:", ":9092", "host:0", "host:65536", " , "]
)
def test_bad_bootstrap_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("HUB_KAFKA_BOOTSTRAP", value)

    with pytest.raises(SettingsError) as caught:
        load_settings()

    assert "HUB_KAFKA_BOOTSTRAP" in caught.value.message
    assert "HUB_HTTP_PORT" not in caught.value.message


def test_bad_bootstrap_message_quotes_the_bad_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_KAFKA_BOOTSTRAP", "good:9092,host:notaport")

    with pytest.raises(SettingsError, match=r"'host:notaport' is not host:port"):
        load_settings()


def test_several_bad_variables_are_all_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_HTTP_PORT", "abc")
    monkeypatch.setenv("HUB_KAFKA_BOOTSTRAP", "nohost")

    with pytest.raises(SettingsError) as caught:
        load_settings()

    assert "HUB_HTTP_PORT" in caught.value.message
    assert "HUB_KAFKA_BOOTSTRAP" in caught.value.message


def test_sasl_ssl_without_credentials_names_every_missing_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUB_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")

    with pytest.raises(SettingsError) as caught:
        load_settings()

    message = caught.value.message
    assert "HUB_KAFKA_SECURITY_PROTOCOL=SASL_SSL" in message
    assert "HUB_KAFKA_SASL_MECHANISM" in message
    assert "HUB_KAFKA_SASL_USERNAME" in message
    assert "HUB_KAFKA_SASL_PASSWORD" in message


def test_sasl_ssl_names_only_the_missing_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("HUB_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("HUB_KAFKA_SASL_USERNAME", "hub")

    with pytest.raises(SettingsError) as caught:
        load_settings()

    message = caught.value.message
    assert "HUB_KAFKA_SASL_PASSWORD" in message
    assert "HUB_KAFKA_SASL_USERNAME" not in message
    assert "HUB_KAFKA_SASL_MECHANISM" not in message


def test_sasl_plaintext_also_needs_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("HUB_KAFKA_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("HUB_KAFKA_SASL_PASSWORD", "pw")

    with pytest.raises(SettingsError, match="HUB_KAFKA_SASL_USERNAME"):
        load_settings()


def test_unknown_security_protocol_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_KAFKA_SECURITY_PROTOCOL", "TLS")

    with pytest.raises(SettingsError, match="HUB_KAFKA_SECURITY_PROTOCOL"):
        load_settings()


@pytest.mark.parametrize(("given", "expected"), [("debug", "DEBUG"), ("Warning", "WARNING")])
def test_lower_case_log_level_is_accepted(
    monkeypatch: pytest.MonkeyPatch, given: str, expected: str
) -> None:
    monkeypatch.setenv("HUB_LOG_LEVEL", given)

    assert load_settings().log_level == expected


def test_unknown_log_level_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_LOG_LEVEL", "verbose")

    with pytest.raises(SettingsError, match="HUB_LOG_LEVEL"):
        load_settings()


def test_bad_environment_and_app_id_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_ENVIRONMENT", "staging")
    monkeypatch.setenv("HUB_APP_ID", "Wuchang Hub")

    with pytest.raises(SettingsError) as caught:
        load_settings()

    assert "HUB_ENVIRONMENT" in caught.value.message
    assert "HUB_APP_ID" in caught.value.message


def test_kafka_client_config_without_sasl_has_no_sasl_keys() -> None:
    config = load_settings().kafka_client_config()

    assert config == {
        "bootstrap_servers": ["127.0.0.1:9092"],
        "security_protocol": "PLAINTEXT",
    }
    assert not any(key.startswith("sasl") for key in config)
    assert not any(key.startswith("ssl") for key in config)


def test_kafka_client_config_with_sasl_and_ssl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_KAFKA_BOOTSTRAP", "b1:9093,b2:9093")
    monkeypatch.setenv("HUB_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("HUB_KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("HUB_KAFKA_SASL_USERNAME", "hub")
    monkeypatch.setenv("HUB_KAFKA_SASL_PASSWORD", "s3cret-pw")
    monkeypatch.setenv("HUB_KAFKA_SSL_CAFILE", "/etc/hub/ca.pem")

    config = load_settings().kafka_client_config()

    assert config == {
        "bootstrap_servers": ["b1:9093", "b2:9093"],
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "hub",
        "sasl_plain_password": "s3cret-pw",
        "ssl_cafile": "/etc/hub/ca.pem",
    }


def test_password_is_a_secret_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("HUB_KAFKA_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("HUB_KAFKA_SASL_USERNAME", "hub")
    monkeypatch.setenv("HUB_KAFKA_SASL_PASSWORD", "s3cret-pw")

    settings = load_settings()

    assert isinstance(settings.kafka_sasl_password, SecretStr)
    assert settings.kafka_sasl_password.get_secret_value() == "s3cret-pw"
    assert "s3cret-pw" not in repr(settings)
    assert "s3cret-pw" not in str(settings)
    assert "s3cret-pw" not in repr(settings.kafka_sasl_password)
    assert "s3cret-pw" not in settings.model_dump_json()


def test_settings_are_frozen() -> None:
    settings = load_settings()

    with pytest.raises(ValueError, match="frozen"):
        settings.http_port = 1  # type: ignore[misc]


def test_production_with_the_embedded_registry_needs_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUB_ENVIRONMENT", "production")
    with pytest.raises(SettingsError, match="HUB_REGISTRY_CREDENTIALS"):
        load_settings()
    monkeypatch.setenv("HUB_SCHEMA_REGISTRY_URL", "https://registry.example:8081")
    assert load_settings().environment == "production"


@pytest.mark.parametrize("value", ["ops", "ops:abc", "ops:" + "G" * 64, ":" + "a" * 64])
def test_malformed_registry_credentials_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("HUB_REGISTRY_CREDENTIALS", value)
    with pytest.raises(SettingsError, match="HUB_REGISTRY_CREDENTIALS"):
        load_settings()
