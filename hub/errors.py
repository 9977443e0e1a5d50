"""Errors of the hub, one tree, each saying whether a retry can help.

::

    HubError                      root; `retriable` says whether trying again can help
    ├── ConfigError               settings, reference or topic files are wrong: fix and restart
    │   ├── SettingsError         a HUB_* environment variable is invalid
    │   ├── ReferenceDataError    parties.yaml (or another reference file) breaks a rule
    │   └── TopicSpecError        a topics/*.yaml declaration breaks a rule
    ├── TopicPlanError            `hub topics apply` would have to do something unsafe
    └── KafkaUnavailableError     the cluster cannot be reached (retriable)

Every message says what is wrong and what to do about it; the CLI prints it without a
traceback and exits non-zero.
"""

from __future__ import annotations


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
    """The Kafka cluster did not answer; check HUB_KAFKA_BOOTSTRAP and that it runs."""

    retriable = True
