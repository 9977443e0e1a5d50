"""The ``hub`` command: help, parties, and clean non-zero exits for user errors."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import hub.cli
from hub.errors import KafkaUnavailableError
from hub.reference import load_parties

ROOT = Path(__file__).resolve().parents[2]
HUB = ROOT / ".venv" / "bin" / "hub"
PARTIES_FILE = ROOT / "hub" / "reference" / "parties.yaml"


def run_hub(*args: str, timeout: float = 30, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the installed console script with the test's (HUB_*-free) environment plus env."""
    return subprocess.run(
        [str(HUB), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env},
        check=False,
    )


def test_console_script_is_installed() -> None:
    assert HUB.is_file()
    assert os.access(HUB, os.X_OK)


def test_help_lists_the_commands() -> None:
    result = run_hub("--help")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: hub")
    for command in ("worker", "topics", "parties"):
        assert command in result.stdout
    assert "HUB_KAFKA_BOOTSTRAP" in result.stdout
    assert result.stderr == ""


def test_topics_apply_help_explains_what_apply_does() -> None:
    result = run_hub("topics", "apply", "--help")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: hub topics apply")
    text = " ".join(result.stdout.split())
    assert "Create missing topics" in text
    assert "partition decrease is refused" in text
    assert "HUB_ENVIRONMENT=local" in text
    assert "HUB_ENVIRONMENT=production" in text


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        hub.cli.main(["--version"])

    assert caught.value.code == 0
    assert capsys.readouterr().out.strip() == f"hub {hub.__version__}"


@pytest.mark.parametrize("argv", [[], ["topics"], ["frobnicate"]])
def test_missing_or_unknown_command_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        hub.cli.main(argv)

    assert caught.value.code == 2
    assert "usage: hub" in capsys.readouterr().err


def test_parties_lists_every_party() -> None:
    result = run_hub("parties")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 30
    ids = [line.split()[0] for line in lines]
    assert ids == [party.id for party in load_parties(PARTIES_FILE)]
    assert lines[0].split()[:3] == ["street-jiyuqiao", "street", "out.street-jiyuqiao.v1"]
    assert lines[0].endswith("积玉桥街道")
    ops = lines[-2].split()
    assert ops[:3] == ["ops", "ops", "-"]
    assert lines[-1].split()[:3] == ["hub", "ops", "-"]
    assert f"30 parties from {PARTIES_FILE}" in result.stderr


def test_parties_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert hub.cli.main(["parties"]) == 0

    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 30
    assert "30 parties" in captured.err


def test_tokens_issue_list_and_revoke(tmp_path: Path) -> None:
    """The token commands operators use: a token shown once that the gateway's store
    accepts, listed by id only, refused once revoked; an unknown party is a usage error."""
    from hub.http import TokenStore

    env = {"HUB_DATA_DIR": str(tmp_path)}
    issued = run_hub("tokens", "issue", "street-jiyuqiao", **env)
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    entry = TokenStore(tmp_path / "tokens.json").authenticate(token)
    assert entry is not None and entry.party == "street-jiyuqiao"
    assert "shown once" in issued.stderr

    listed = run_hub("tokens", "list", **env)
    assert entry.token_id in listed.stdout and "live" in listed.stdout
    assert token not in listed.stdout

    assert run_hub("tokens", "revoke", entry.token_id, **env).returncode == 0
    assert TokenStore(tmp_path / "tokens.json").authenticate(token) is None

    unknown = run_hub("tokens", "issue", "street-nowhere", **env)
    assert unknown.returncode == 2 and "unknown party" in unknown.stderr, unknown.stderr


def test_bad_http_port_exits_2_without_traceback() -> None:
    result = run_hub("parties", HUB_HTTP_PORT="abc")

    assert result.returncode == 2
    assert "HUB_HTTP_PORT" in result.stderr
    assert result.stderr.startswith("hub: configuration error:")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_malformed_topics_file_exits_2_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("topics:\n  - {name: a.v1, doc: d, partitions: 0}\n", encoding="utf-8")

    # topics diff validates the declarations before it looks for a broker; port 1 is closed,
    # so reaching Kafka would change the exit code to 1.
    result = run_hub(
        "topics", "diff", HUB_TOPICS_DIR=str(tmp_path), HUB_KAFKA_BOOTSTRAP="127.0.0.1:1"
    )

    assert result.returncode == 2, result.stderr
    assert str(bad) in result.stderr
    assert "topics[0] (a.v1).partitions" in result.stderr
    assert "Traceback" not in result.stderr


def test_malformed_parties_file_exits_2_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "parties.yaml"
    bad.write_text("parties:\n  - {id: Bad, name: 坏, kind: street}\n", encoding="utf-8")

    result = run_hub("parties", HUB_PARTIES_FILE=str(bad))

    assert result.returncode == 2
    assert str(bad) in result.stderr
    assert "parties[0] (Bad)" in result.stderr
    assert "Traceback" not in result.stderr


@contextmanager
def _no_broker(settings: object) -> Iterator[object]:
    raise KafkaUnavailableError("no Kafka broker answers (test stand-in)")
    yield  # pragma: no cover


@pytest.mark.parametrize("action", ["diff", "apply"])
def test_malformed_topics_are_reported_before_kafka_is_needed(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    action: str,
) -> None:
    # A configuration error must be reported as one (exit 2) whether or not a broker runs:
    # otherwise the user starts a broker only to learn the declarations were wrong.
    bad = tmp_path / "broken.yaml"
    bad.write_text("topics:\n  - {name: a.v1, doc: d, partitions: 0}\n", encoding="utf-8")
    monkeypatch.setenv("HUB_TOPICS_DIR", str(tmp_path))
    monkeypatch.setattr(hub.cli, "admin_client", _no_broker)

    code = hub.cli.main(["topics", action])

    err = capsys.readouterr().err
    assert code == 2, err
    assert str(bad) in err


def test_unreachable_broker_exits_1_with_advice() -> None:
    # kafka-python gives up bootstrapping after its 30 s default; allow for that.
    result = run_hub("topics", "diff", HUB_KAFKA_BOOTSTRAP="127.0.0.1:1", timeout=120)

    assert result.returncode == 1
    assert "hub: error: no Kafka broker answers at 127.0.0.1:1" in result.stderr
    assert "start one" in result.stderr
    assert "set HUB_KAFKA_BOOTSTRAP" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_tokens_issue_gives_many_parties_their_tokens_in_one_call(tmp_path: Path) -> None:
    """`make run` issues the demo's tokens in one process: one line per party, in the
    order given; an unknown party among them issues nothing."""
    from hub.http import TokenStore

    env = {"HUB_DATA_DIR": str(tmp_path)}
    parties = ["street-jiyuqiao", "dept-urban", "police"]
    issued = run_hub("tokens", "issue", *parties, **env)
    assert issued.returncode == 0, issued.stderr
    store = TokenStore(tmp_path / "tokens.json")
    owners = [store.authenticate(token) for token in issued.stdout.split()]
    assert [entry.party if entry else None for entry in owners] == parties

    refused = run_hub("tokens", "issue", "dept-urban", "street-nowhere", **env)
    assert refused.returncode == 2 and "street-nowhere" in refused.stderr
    assert len(TokenStore(tmp_path / "tokens.json").entries()) == len(parties)
