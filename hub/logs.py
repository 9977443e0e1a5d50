"""Structured logs: one JSON object per line, with the ``trace_id`` of the record at hand.

A record's trace id is born at the gateway (the caller's ``X-Trace-Id``, or a new one),
travels in the ``hub.trace_id`` Kafka header through the normaliser and the dispatch
agents to the inbox topics, and leaves in the ``X-Hub-Trace-Id`` header of outbound
deliveries. Whoever handles a record sets `TRACE_ID` (`traced`) while it does, so every
line logged meanwhile, by the hub or a library, carries it: ``jq 'select(.trace_id ==
"...")'`` over the logs of all processes follows one order.

HUB_LOG_FORMAT=text gives the classic one-line text format for a terminal;
HUB_LOG_FILE keeps the JSON lines in a file and shows a person only the warnings.
"""

from __future__ import annotations

import json
import logging
import logging.config
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

TRACE_ID: ContextVar[str | None] = ContextVar("hub_trace_id", default=None)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# LogRecord's own attributes: anything else on a record came in through `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


@contextmanager
def traced(trace_id: str | bytes | None) -> Iterator[None]:
    """Log with trace_id while the block runs (no-op without one)."""
    if not trace_id:
        yield
        return
    text = trace_id.decode(errors="replace") if isinstance(trace_id, bytes) else trace_id
    token = TRACE_ID.set(text)
    try:
        yield
    finally:
        TRACE_ID.reset(token)


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", "trace_id"?, extras..., "error"?}``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        trace = getattr(record, "trace_id", None) or TRACE_ID.get()
        if trace:
            line["trace_id"] = trace
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in line:
                line[key] = value if isinstance(value, (str, int, float, bool)) else str(value)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False)


def logging_config(
    level: str, fmt: str, file: Path | None = None, console_level: str = "WARNING"
) -> dict[str, Any]:
    """A `logging.config.dictConfig` for hub processes: stderr, JSON or text; with file,
    the whole log as JSON lines there and only console_level and above on stderr, as
    text (a person at a terminal, the machine-readable log in the file)."""
    json_formatter = {"()": f"{__name__}.JsonFormatter"}
    text_formatter = {"format": TEXT_FORMAT}
    quiet = "WARNING" if level != "DEBUG" else "DEBUG"
    filters = ["bad-requests", "repeats"]
    stderr_level = level if file is None else console_level
    handlers: dict[str, Any] = {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "text" if fmt == "text" or file is not None else "json",
            "level": stderr_level,
            "filters": [*filters, "transient-stderr"],
        }
    }
    if file is not None:
        handlers["file"] = {
            "class": "logging.FileHandler",
            "filename": str(file),
            "encoding": "utf-8",
            "formatter": "json",
            "level": level,
            "filters": [*filters, "transient-file"],
        }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": json_formatter, "text": text_formatter},
        "filters": {
            "bad-requests": {"()": f"{__name__}.BadRequestFilter"},
            "repeats": {"()": f"{__name__}.RepeatFilter"},
            "transient-stderr": {"()": f"{__name__}.TransientFilter", "floor": stderr_level},
            "transient-file": {"()": f"{__name__}.TransientFilter", "floor": level},
        },
        "handlers": handlers,
        "root": {"level": level, "handlers": list(handlers)},
        # kafka-python and aiokafka narrate every connection at INFO
        "loggers": {"kafka": {"level": quiet}, "aiokafka": {"level": quiet}},
    }


def configure_logging(
    level: str, fmt: str, file: Path | None = None, console_level: str = "WARNING"
) -> None:
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
    logging.config.dictConfig(logging_config(level, fmt, file, console_level))


class BadRequestFilter(logging.Filter):
    """aiohttp logs a request it cannot parse (a NUL in a header, a broken request line)
    as an ERROR with a traceback, although it answered the client 400 and nothing on the
    hub's side failed: such a line becomes one WARNING naming the client's mistake."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "aiohttp.server" and record.exc_info:
            error = record.exc_info[1]
            if isinstance(error, HttpProcessingError):
                what = " ".join(str(error.message).split())[:300]
                record.levelno, record.levelname = logging.WARNING, "WARNING"
                record.msg, record.args = "refused a malformed HTTP request (400): %s", (what,)
                record.exc_info = record.exc_text = None
        return True


TRANSIENT = (
    "NotLeaderForPartitionError",
    "LeaderNotAvailableError",
    "GroupCoordinatorNotAvailableError",
    "NotCoordinatorForGroupError",
    "CoordinatorLoadInProgressError",
)


class TransientFilter(logging.Filter):
    """aiokafka logs at ERROR what it retries by itself and what a healthy cluster says
    for its first seconds (a new topic's leader not elected yet, the group coordinator
    still loading): such a line becomes INFO, so a person sees it only when asking for
    detail, and the handler below `floor` (its own level) lets it go."""

    def __init__(self, floor: str = "WARNING") -> None:
        super().__init__()
        self.floor: int = logging.getLevelNamesMapping()[floor]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("aiokafka") and record.levelno >= logging.WARNING:
            text = record.getMessage()
            if any(name in text for name in TRANSIENT):
                record.levelno, record.levelname = logging.INFO, "INFO"
        return record.levelno >= self.floor


class RepeatFilter(logging.Filter):
    """Lets a warning or error of the Kafka clients through once per `every` seconds per
    message template, then says how many it held back: a broker that is down makes
    aiokafka log every reconnect, and the lines an operator needs drown in them."""

    def __init__(self, every: float = 30.0) -> None:
        super().__init__()
        self.every = every
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not record.name.startswith(
            ("aiokafka", "kafka", "aiohttp.server")
        ):
            return True
        key = (record.name, str(record.msg))
        now = time.monotonic()
        last, held = self._seen.get(key, (0.0, 0))
        if now - last < self.every:
            self._seen[key] = (last, held + 1)
            return False
        self._seen[key] = (now, 0)
        if held:
            record.msg = f"{record.msg} ({held} more like it in the last {self.every:.0f} s)"
        return True


class RateLimited:
    """A logger's warning/error at most once per `every` seconds per message template."""

    def __init__(self, logger: logging.Logger, every: float = 30.0) -> None:
        self.logger = logger
        self.every = every
        self._seen: dict[str, tuple[float, int]] = {}

    def _log(self, level: int, msg: str, *args: Any) -> None:
        now = time.monotonic()
        last, held = self._seen.get(msg, (0.0, 0))
        if now - last < self.every:
            self._seen[msg] = (last, held + 1)
            return
        self._seen[msg] = (now, 0)
        suffix = f" ({held} more like it held back)" if held else ""
        self.logger.log(level, msg + suffix, *args)

    def warning(self, msg: str, *args: Any) -> None:
        self._log(logging.WARNING, msg, *args)

    def error(self, msg: str, *args: Any) -> None:
        self._log(logging.ERROR, msg, *args)
