"""How `make test` splits the real-broker tests into shards that run side by side.

The real-broker tests spend most of their time waiting on Kafka and on worker processes
(about a quarter of two cores), so `tests/run.sh` runs them as several pytest runs at
once, each on its own broker (its own port and data), beside the run of the tests that
need no broker. ``pytest --shard I/N`` keeps the modules of shard I of N.

A module stays whole in one shard (its module-scoped workers start once), and the
modules that use the secured cluster stay together (it is a session fixture: one
cluster per shard that needs it). Modules are dealt, heaviest first, to the shard with
the least work so far, by the seconds each took in a measured run (`SECONDS`; a module
not listed counts as `UNKNOWN`). Re-measure with ``make test PYTEST_ARGS=--durations=0``
when the split drifts far from even.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# Seconds per module in a clean-clone `make test` (durations of setup, call and
# teardown summed), 2026-12-03, one broker run of 1,046 s.
SECONDS: Mapping[str, float] = {
    "test_dispatch.py": 175,
    "test_faults.py": 98,
    "test_demo.py": 83,
    "test_gateway_contract.py": 62,
    "test_operations.py": 58,
    "test_local_kafka.py": 44,
    "test_reference_cli.py": 43,
    "test_gateway_auth.py": 40,
    "test_shared_store.py": 33,
    "test_ops_page.py": 33,
    "test_connectors.py": 33,
    "test_failover.py": 32,
    "test_connector_conformance.py": 30,
    "test_shared.py": 27,
    "test_workbench_browser.py": 100,  # five browser tests since the measurement
    "test_subscription_faults.py": 27,
    "test_worker_connectors.py": 25,
    "test_gateway.py": 25,
    "test_worker.py": 20,
    "test_stage_readiness.py": 19,
    "test_registry.py": 17,
    "test_normalise.py": 17,
    "test_gateway_inbox.py": 14,
    "test_monitoring_config.py": 13,
    "test_client_pairing.py": 13,
    "test_serde.py": 10,
    "test_kafka_acls.py": 9,
    "test_connectors_cli.py": 4,
    "test_topics_apply.py": 3,
    "test_consumer_lag.py": 3,
}
UNKNOWN = 15.0


def parse(text: str) -> tuple[int, int]:
    """``"I/N"`` as (I, N), 1 ≤ I ≤ N; ValueError with what is wrong otherwise."""
    index, sep, count = text.partition("/")
    if not sep or not index.isdigit() or not count.isdigit():
        raise ValueError(f"--shard takes I/N, e.g. 1/2 (got {text!r}) / --shard 应为 I/N，如 1/2")
    i, n = int(index), int(count)
    if not 1 <= i <= n:
        raise ValueError(f"--shard {text}: I must be between 1 and N / I 应在 1 到 N 之间")
    return i, n


def plan(modules: Iterable[str], together: Iterable[str], shards: int) -> dict[str, int]:
    """Each module's shard (1..shards): the modules in together form one unit; units go,
    heaviest first, to the shard with the least seconds so far (ties: the lower shard,
    then the name, so every run of the same modules deals them the same way)."""
    modules, together = sorted(set(modules)), set(together)
    units: list[tuple[float, str, list[str]]] = []
    grouped = [m for m in modules if m in together]
    if grouped:
        units.append((sum(SECONDS.get(m, UNKNOWN) for m in grouped), grouped[0], grouped))
    units += [(SECONDS.get(m, UNKNOWN), m, [m]) for m in modules if m not in together]
    load = [0.0] * shards
    where: dict[str, int] = {}
    for weight, _, members in sorted(units, key=lambda u: (-u[0], u[1])):
        shard = min(range(shards), key=lambda s: (load[s], s))
        load[shard] += weight
        for member in members:
            where[member] = shard + 1
    return where
