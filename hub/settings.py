"""Settings of the hub, all in one place (environment variables with the ``HUB_`` prefix).

Connectors and components receive what they need from `HubSettings`; nothing else in
the hub reads ``os.environ``. Invalid values fail at start with the variable's name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.errors import SettingsError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class HubSettings(BaseSettings):
    """Every setting of a hub process. Environment: ``HUB_<FIELD>`` (upper case)."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore", frozen=True)

    kafka_bootstrap: str = Field(
        default="127.0.0.1:9092",
        description="Comma-separated host:port list of Kafka brokers.",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="Security protocol for every Kafka connection."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None, description="SASL mechanism when the protocol is SASL_*."
    )
    kafka_sasl_username: str | None = Field(default=None, description="SASL user name.")
    kafka_sasl_password: SecretStr | None = Field(default=None, description="SASL password.")
    kafka_ssl_cafile: Path | None = Field(
        default=None, description="CA bundle that signed the brokers' certificates."
    )
    kafka_ssl_certfile: Path | None = Field(
        default=None, description="Client certificate for mutual TLS with the brokers."
    )
    kafka_ssl_keyfile: Path | None = Field(
        default=None, description="Key of the client certificate."
    )
    environment: Literal["local", "production"] = Field(
        default="local",
        description=(
            "local: a replication factor above the cluster size is capped with a warning; "
            "production: it is an error."
        ),
    )
    app_id: str = Field(
        default="wuchang-hub",
        pattern=r"^[a-z][a-z0-9-]{2,62}$",
        description="Faust application id: consumer group and internal topic prefix.",
    )
    schema_registry_url: str | None = Field(
        default=None,
        description=(
            "URL of a Confluent-compatible schema registry; unset = the embedded one, "
            "served by each worker at /registry"
        ),
    )

    schema_registry_user: str | None = Field(
        default=None,
        description="Basic-auth user for HUB_SCHEMA_REGISTRY_URL (or the embedded one).",
    )
    schema_registry_password: SecretStr | None = Field(
        default=None, description="Basic-auth password for the schema registry."
    )
    registry_credentials: str | None = Field(
        default=None,
        description=(
            "Who may use the embedded registry: comma-separated user:sha256hex entries "
            "(`hub registry credential USER` makes one). Unset: loopback clients only; "
            "required with HUB_ENVIRONMENT=production."
        ),
    )
    http_host: str = Field(default="127.0.0.1", description="Address the HTTP server binds.")
    http_port: int = Field(default=8080, ge=1, le=65535, description="Port of the HTTP server.")
    http_tls_certfile: Path | None = Field(
        default=None, description="Server certificate: serve HTTPS when set (with the key)."
    )
    http_tls_keyfile: Path | None = Field(
        default=None, description="Key of the server certificate."
    )
    http_tls_client_cafile: Path | None = Field(
        default=None, description="CA of client certificates: require mutual TLS when set."
    )
    tokens_file: Path | None = Field(
        default=None, description="Bearer-token hashes; default $HUB_DATA_DIR/tokens.json."
    )
    session_seconds: int = Field(
        default=8 * 3600, ge=300, le=7 * 86400,
        description="How long a workbench sign-in lasts (the session cookie's life).",
    )
    session_key_file: Path | None = Field(
        default=None,
        description="The key that signs session cookies, shared by every worker; default "
        "$HUB_DATA_DIR/session.key, made at first use when missing.",
    )
    gateway_require_signature: bool = Field(
        default=False, description="Refuse publish requests without an HMAC-SHA256 body signature."
    )
    gateway_body_limit: int = Field(
        default=960 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest request body (bytes).",
    )
    gateway_batch_limit: int = Field(
        default=500, ge=1, le=10_000, description="Most records in one batch publish."
    )
    gateway_rate: float = Field(
        default=200.0, gt=0, description="Sustained requests per second allowed per party."
    )
    gateway_burst: int = Field(default=400, ge=1, description="Requests a party may send at once.")
    gateway_timeout: float = Field(
        default=10.0, gt=0, le=120, description="Seconds a request may take before 503."
    )
    kafka_timeout: float = Field(
        default=5.0, gt=0, le=60, description="Seconds to wait for Kafka before answering 503."
    )
    kafka_record_limit: int = Field(
        default=1024 * 1024,
        ge=64 * 1024,
        le=64 * 1024 * 1024,
        description="Largest record the topics take (their max.message.bytes, Kafka's "
        "default 1 MiB); the gateway's body limit must stay 64 KiB below it.",
    )
    kafka_linger_ms: int = Field(
        default=0,
        ge=0,
        le=1000,
        description="Milliseconds a worker's producer waits to batch records. 0 (the "
        "default) sends at once; records written while a request is in flight still go "
        "together, so a backlog is batched anyway (make bench: H1 the same at 0 and 5 ms, "
        "publish-to-inbox p50 10 ms against 30 ms).",
    )
    kafka_fetch_wait_ms: int = Field(
        default=500,
        ge=10,
        le=5000,
        description="Longest a worker's fetch waits at the broker when no partition it owns "
        "has records (fetch.max.wait.ms): records that arrive are answered at once, so "
        "this costs no latency; shorter only makes an idle worker ask more often.",
    )
    kafka_session_timeout: float = Field(
        default=30.0,
        ge=6,
        le=300,
        description="Seconds without a heartbeat before Kafka hands a dead worker's "
        "partitions to the others (failover time).",
    )
    worker_id: str | None = Field(
        default=None,
        description="This worker's static group member id (KIP-345 group.instance.id), "
        "stable across its restarts: a worker back within the session timeout takes its "
        "partitions back with no rebalance. Default: host name and HTTP port.",
    )
    park_seconds: float = Field(
        default=3600.0,
        ge=1,
        le=7 * 24 * 3600,
        description="How long an order event waits for an order the hub has not seen "
        "before it goes to the DLQ (UnknownOrder).",
    )
    kafka_offset_reset: Literal["earliest", "latest"] = Field(
        default="earliest",
        description="Where a consumer group new to a topic starts: earliest (a new "
        "deployment processes what is already there) or latest (only what comes next).",
    )
    reference_refresh_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="How often a worker re-reads the matter catalogue and officer roster "
        "from the share topics.",
    )
    deadline_sweep_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="How often workers look for missed deadlines."
    )
    data_dir: Path = Field(
        default=PROJECT_ROOT / ".hub",
        description="Folder for the worker's local state (table caches, token hashes).",
    )
    topics_dir: Path = Field(
        default=PROJECT_ROOT / "topics", description="Folder of topic declarations (*.yaml)."
    )
    parties_file: Path = Field(
        default=Path(__file__).resolve().parent / "reference" / "parties.yaml",
        description="Reference file of the parties (streets, departments, bureaus).",
    )
    calendar_file: Path = Field(
        default=Path(__file__).resolve().parent / "reference" / "calendar.yaml",
        description="Working calendar: public holidays and adjusted working weekends.",
    )
    deadlines_file: Path = Field(
        default=Path(__file__).resolve().parent / "reference" / "deadlines.yaml",
        description="Default order deadlines per order type and priority.",
    )
    datasets_file: Path = Field(
        default=Path(__file__).resolve().parent / "reference" / "datasets.yaml",
        description="The data catalogue: shared datasets, their keys, field classes and "
        "readers.",
    )
    enforcement_file: Path = Field(
        default=Path(__file__).resolve().parent / "reference" / "enforcement.yaml",
        description="Statutory periods of a decided fine: payment, challenges, reminder, "
        "the window to apply to the court.",
    )
    connectors_file: Path | None = Field(
        default=None,
        description="YAML file of the party connectors a worker runs (none when unset).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Log level of hub processes."
    )

    log_format: Literal["json", "text"] = Field(
        default="json",
        description="json: one JSON object per line with the record's trace_id; text: "
        "classic lines for a terminal.",
    )
    log_file: Path | None = Field(
        default=None,
        description="Also write the whole log, as JSON lines, to this file (appended); stderr "
        "then shows only HUB_LOG_CONSOLE_LEVEL and above, as text lines. `make run` in a "
        "terminal uses .hub/worker.log.",
    )
    log_console_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="WARNING",
        description="With HUB_LOG_FILE: the lowest level stderr still shows.",
    )

    @field_validator("log_level", "log_console_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("kafka_bootstrap")
    @classmethod
    def _check_bootstrap(cls, value: str) -> str:
        servers = [s.strip() for s in value.split(",") if s.strip()]
        if not servers:
            raise ValueError("give at least one host:port")
        for server in servers:
            host, sep, port = server.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"'{server}' is not host:port (for example 127.0.0.1:9092)")
        return ",".join(servers)

    @field_validator("registry_credentials")
    @classmethod
    def _check_credentials(cls, value: str | None) -> str | None:
        if value is None:
            return None
        for entry in value.split(","):
            user, sep, digest = entry.strip().partition(":")
            if (
                not sep
                or not user
                or len(digest) != 64
                or not all(c in "0123456789abcdef" for c in digest)
            ):
                raise ValueError(
                    "each entry must be user:sha256hex (64 lower-case hex digits); "
                    "make one with `hub registry credential USER`"
                )
        return value

    def registry_users(self) -> dict[str, str]:
        """user -> sha256 hex of the password, from HUB_REGISTRY_CREDENTIALS."""
        if not self.registry_credentials:
            return {}
        pairs = (entry.strip().partition(":") for entry in self.registry_credentials.split(","))
        return {user: digest for user, _, digest in pairs}

    @model_validator(mode="after")
    def _check_registry_auth(self) -> HubSettings:
        if (
            self.environment == "production"
            and self.schema_registry_url is None
            and not self.registry_credentials
        ):
            raise ValueError(
                "HUB_REGISTRY_CREDENTIALS is required with HUB_ENVIRONMENT=production when the "
                "embedded schema registry is used (HUB_SCHEMA_REGISTRY_URL unset)"
            )
        return self

    @model_validator(mode="after")
    def _check_limits(self) -> HubSettings:
        room = self.kafka_record_limit - 64 * 1024
        if self.gateway_body_limit > room:
            raise ValueError(
                f"HUB_GATEWAY_BODY_LIMIT={self.gateway_body_limit} leaves no room for the hub's "
                f"headers in a record of HUB_KAFKA_RECORD_LIMIT={self.kafka_record_limit}; "
                f"set it to {room} or less, or raise the record limit (and the topics' "
                "max.message.bytes) first"
            )
        return self

    @model_validator(mode="after")
    def _check_sasl(self) -> HubSettings:
        if self.kafka_security_protocol.startswith("SASL_"):
            missing = [
                name
                for name, value in (
                    ("HUB_KAFKA_SASL_MECHANISM", self.kafka_sasl_mechanism),
                    ("HUB_KAFKA_SASL_USERNAME", self.kafka_sasl_username),
                    ("HUB_KAFKA_SASL_PASSWORD", self.kafka_sasl_password),
                )
                if value is None
                or (isinstance(value, str) and not value)
                or (isinstance(value, SecretStr) and not value.get_secret_value())
            ]
            if missing:
                raise ValueError(
                    f"HUB_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                    + ", ".join(missing)
                )
        return self

    @property
    def tokens_path(self) -> Path:
        """Where bearer-token hashes are kept."""
        return self.tokens_file or self.data_dir / "tokens.json"

    @property
    def session_key_path(self) -> Path:
        """Where the key signing session cookies is kept."""
        return self.session_key_file or self.data_dir / "session.key"

    @property
    def bootstrap_servers(self) -> list[str]:
        """The bootstrap servers as a list."""
        return self.kafka_bootstrap.split(",")

    def kafka_client_config(self) -> dict[str, object]:
        """Connection options shared by kafka-python clients (admin, producer, consumer)."""
        config: dict[str, object] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.kafka_security_protocol,
        }
        if self.kafka_sasl_mechanism:
            config["sasl_mechanism"] = self.kafka_sasl_mechanism
            config["sasl_plain_username"] = self.kafka_sasl_username
            config["sasl_plain_password"] = (
                self.kafka_sasl_password.get_secret_value() if self.kafka_sasl_password else None
            )
        if self.kafka_ssl_cafile:
            config["ssl_cafile"] = str(self.kafka_ssl_cafile)
        if self.kafka_ssl_certfile:
            config["ssl_certfile"] = str(self.kafka_ssl_certfile)
        if self.kafka_ssl_keyfile:
            config["ssl_keyfile"] = str(self.kafka_ssl_keyfile)
        return config


def load_settings(**overrides: object) -> HubSettings:
    """Read the settings from the environment; raise `SettingsError` naming each bad variable."""
    try:
        return HubSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            location = "_".join(str(part) for part in error["loc"])
            variable = f"HUB_{location.upper()}" if location else "settings"
            problems.append(f"{variable}: {error['msg']}")
        raise SettingsError(
            "invalid hub settings:\n  "
            + "\n  ".join(problems)
            + "\nfix the environment variables above (see README, Configuration)"
        ) from None
