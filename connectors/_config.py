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
from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from connectors._registry import TRANSPORTS
from hub._yaml import load_model
from hub.errors import ConfigError
from hub.reference import Registry


class ConnectorSpec(BaseModel):
    """What every connector entry has; each transport's model adds its own fields
    (`connectors._registry`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,60}$", description="unique connector name")
    party: str = Field(description="the party this connector serves (parties.yaml id)")
    type: str = Field(description="the transport (a registered kind)")


ConnectorConfig = ConnectorSpec  # any registered transport's configuration


def _file_model() -> type[BaseModel]:
    """The connectors file as the registered transports' models allow it."""
    models = tuple(transport.config for transport in TRANSPORTS.values())
    entry = Annotated[Union[models], Field(discriminator="type")]  # type: ignore[valid-type]  # noqa: UP007
    return create_model(
        "ConnectorsFile",
        __config__=ConfigDict(extra="forbid", frozen=True),
        connectors=(list[entry], Field(default_factory=list)),
    )


def load_connectors(path: Path, parties: Registry) -> list[ConnectorConfig]:
    """Read and check the connectors file; ConfigError naming the entry when wrong."""
    loaded: Any = load_model(path, _file_model(), empty={})
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

