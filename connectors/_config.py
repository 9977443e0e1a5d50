"""Connector configuration: one YAML file lists the connector instances (STYLE §2).

Each entry is validated at start by the model of its ``type``; the models below are the
specification (every field has a description and a default where one makes sense)::

    connectors:
      - name: police-webhook          # unique; names its state entries and consumer group
        party: police
        type: webhook                 # deliver out.police.v1 to the party's endpoint
        url: https://police.example/hub/inbox
        secret_file: /etc/hub/police.secret
      - name: bigdata-entities
        party: bigdata
        type: http-poll               # poll the party's API into raw.bigdata.v1
        url: https://bigdata.example/api/entities
        native_kind: market-entity
      - name: planning-drop
        party: dept-planning
        type: file-drop               # import CSV/JSON files from a folder
        directory: /srv/exchange/planning
        native_kind: planning-violation
        encoding: gbk
      - name: urban-direct
        party: dept-urban
        type: kafka                   # the party produces raw.dept-urban.v1 itself
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from connectors._webhook import WebhookSettings
from hub._yaml import load_model
from hub.errors import ConfigError
from hub.reference import Registry


class _Common(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,60}$", description="unique connector name")
    party: str = Field(description="the party this connector serves (parties.yaml id)")


class WebhookConnector(_Common, WebhookSettings):
    """Delivers the party's inbox ``out.<party>.v1`` to its HTTP endpoint (HTTP push)."""

    type: Literal["webhook"] = Field(description="HTTP push to the party")
    batch_size: int = Field(default=100, ge=1, le=5000, description="records per batch")


class PollConnector(_Common):
    """Polls the party's HTTP API with a cursor kept in Kafka (HTTP poll)."""

    type: Literal["http-poll"] = Field(description="HTTP poll of the party's API")
    url: HttpUrl = Field(description="GET endpoint answering {records: [...], next_cursor}")
    native_kind: str = Field(description="native kind of the records (a mapping spec)")
    interval_seconds: float = Field(default=30.0, gt=0, description="pause between polls")
    cursor_param: str = Field(default="cursor", description="query parameter of the cursor")
    records_field: str = Field(default="records", description="answer field with the records")
    cursor_field: str = Field(default="next_cursor", description="answer field: next cursor")
    token_file: str | None = Field(
        default=None, description="file with a bearer token for the party's API"
    )
    timeout_seconds: float = Field(default=10.0, gt=0, description="per request")


class FileDropConnector(_Common):
    """Imports CSV, JSON or JSON-lines files dropped into a folder, each file once."""

    type: Literal["file-drop"] = Field(description="file drop (exchange platform batches)")
    directory: Path = Field(description="folder the party's files arrive in")
    native_kind: str = Field(description="native kind of the rows (a mapping spec)")
    pattern: str = Field(default="*", description="glob of the files to import")
    encoding: str = Field(default="utf-8", description="text encoding of the files")
    csv_delimiter: str = Field(default=",", min_length=1, max_length=1, description="CSV")
    interval_seconds: float = Field(default=5.0, gt=0, description="how often to look")
    settle_seconds: float = Field(
        default=2.0, ge=0, description="a file must be unchanged this long (still copying?)"
    )


class KafkaConnector(_Common):
    """The party produces ``raw.<party>.v1`` and consumes ``out.<party>.v1`` itself;
    nothing runs in the hub (its principal's ACLs cover those two topics)."""

    type: Literal["kafka"] = Field(description="direct Kafka")


ConnectorConfig = Annotated[
    WebhookConnector | PollConnector | FileDropConnector | KafkaConnector,
    Field(discriminator="type"),
]


class ConnectorsFile(BaseModel):
    """The connectors file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connectors: list[ConnectorConfig] = Field(default_factory=list)


def load_connectors(path: Path, parties: Registry) -> list[ConnectorConfig]:
    """Read and check the connectors file; ConfigError naming the entry when wrong."""
    loaded = load_model(path, ConnectorsFile, empty={})
    names: set[str] = set()
    for index, connector in enumerate(loaded.connectors):
        if connector.name in names:
            raise ConfigError(f"{path}: connectors[{index}]: name '{connector.name}' repeats")
        names.add(connector.name)
        try:
            inbox = parties.get(connector.party).inbox
        except KeyError:
            inbox = False
        if not inbox:
            raise ConfigError(
                f"{path}: connectors[{index}] ({connector.name}): '{connector.party}' is not a "
                "party with raw and inbox topics; see `hub parties`"
            )
    return list(loaded.connectors)
