"""Errors of the hub, one tree, each saying whether a retry can help.

::

    HubError                      root; `retriable` says whether trying again can help
    ├── ConfigError               settings, reference or topic files are wrong: fix and restart
    │   ├── SettingsError         a HUB_* environment variable is invalid
    │   ├── ReferenceDataError    parties.yaml (or another reference file) breaks a rule
    │   └── TopicSpecError        a topics/*.yaml declaration breaks a rule
    ├── TopicPlanError            `hub topics apply` would have to do something unsafe
    ├── KafkaUnavailableError     the cluster cannot be reached (retriable)
    ├── RecordError               a record cannot be accepted (stage + reason for the DLQ)
    │   ├── RecordInvalid         breaks validation rules; lists every `FieldError`
    │   └── DecodeError           bytes are not a readable record; keeps the raw bytes
    └── SchemaRegistryError       the registry refused or is unreachable (5xx retriable)
        └── SchemaIncompatible    a new schema version breaks compatibility (409)

Every message says what is wrong and what to do about it; the CLI prints it without a
traceback and exits non-zero.
"""

from __future__ import annotations

from dataclasses import dataclass


class HubError(Exception):
    """Root of every error the hub raises on purpose."""

    retriable: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(HubError):
    """Configuration is invalid; the hub refuses to start until it is fixed."""


class SettingsError(ConfigError):
    """A HUB_* setting has an invalid value. The message names the variable."""


class ReferenceDataError(ConfigError):
    """A reference data file breaks a rule. The message names the file, entry and rule."""


class TopicSpecError(ConfigError):
    """A topic declaration breaks a rule. The message names the file, entry and rule."""


class TopicPlanError(HubError):
    """Applying the declared topics would need an unsafe or impossible change."""


class KafkaUnavailableError(HubError):
    """The Kafka cluster did not answer; check HUB_KAFKA_BOOTSTRAP and that it runs.

    `maybe_written` is true when a record was handed to the producer before the wait
    gave up: it may still arrive, so the caller should resend the same record.
    """

    retriable = True
    maybe_written = False


class RecordError(HubError):
    """A record cannot be accepted. Carries the stage and reason the DLQ records."""

    stage: str = "validate"

    @property
    def reason(self) -> str:
        """A short machine-readable reason (DLQ header ``hub.error.class``)."""
        return type(self).__name__

    @property
    def field(self) -> str:
        """The field(s) at fault, when known (DLQ header ``hub.error.field``)."""
        return ""


class RecordInvalid(RecordError):
    """A record breaks validation rules; `errors` lists every one, with path and rule."""

    def __init__(self, kind: str, errors: list[FieldError]) -> None:
        self.kind = kind
        self.errors = errors
        lines = "\n  ".join(f"{e.path}: [{e.rule}] {e.message_en} / {e.message_zh}" for e in errors)
        super().__init__(f"invalid {kind} record, {len(errors)} error(s):\n  {lines}")

    @property
    def field(self) -> str:
        return ", ".join(e.path for e in self.errors)


class DecodeError(RecordError):
    """Bytes are not a record the hub can read (wrong magic byte, unknown schema, bad Avro).

    Carries the raw bytes untouched so the DLQ keeps them for replay.
    """

    stage = "deserialize"

    def __init__(self, message: str, raw: bytes, *, schema_id: int | None = None) -> None:
        super().__init__(message)
        self.raw = raw
        self.schema_id = schema_id


class SchemaRegistryError(HubError):
    """The schema registry refused a request or could not be reached.

    `status` and `error_code` follow Confluent's registry (e.g. 404/40403 schema not
    found, 409/409 incompatible, 422/42201 invalid schema).
    """

    def __init__(self, message: str, *, status: int = 500, error_code: int = 50001) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.retriable = status >= 500


class SchemaIncompatible(SchemaRegistryError):
    """A new schema version is not compatible with the previous one(s)."""

    def __init__(self, message: str, reasons: list[str]) -> None:
        super().__init__(message, status=409, error_code=409)
        self.reasons = reasons


@dataclass(frozen=True)
class FieldError:
    """One broken rule of a record: where, which rule, and what to do (zh and en)."""

    path: str
    rule: str
    message_zh: str
    message_en: str

    def as_dict(self) -> dict[str, str]:
        return {
            "path": self.path,
            "rule": self.rule,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }
