#!/usr/bin/env python3
"""Ask a Kafka broker for cluster metadata, using only the standard library.

Used by kafka.sh to decide that a freshly started broker is ready: it must answer a
MetadataRequest (v4, still served by Kafka 3.x and 4.x) listing at least the expected
number of brokers. Exit 0 when it does, 1 otherwise.

    python3 probe.py 127.0.0.1:9092 [--brokers N] [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import socket
import struct
import sys

METADATA_API_KEY = 3
METADATA_VERSION = 4
CLIENT_ID = b"hub-probe"


def _request() -> bytes:
    header = struct.pack(">hhih", METADATA_API_KEY, METADATA_VERSION, 1, len(CLIENT_ID)) + CLIENT_ID
    body = struct.pack(">i?", -1, False)  # all topics, no auto-creation
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def _read_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        data += chunk
    return data


def broker_count(address: str, timeout: float) -> int:
    """Return the number of brokers in the metadata answer of the broker at address."""
    host, _, port = address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(_request())
        (size,) = struct.unpack(">i", _read_exact(sock, 4))
        response = _read_exact(sock, size)
    correlation_id, _throttle, count = struct.unpack(">iii", response[:12])
    if correlation_id != 1:
        raise ConnectionError(f"unexpected correlation id {correlation_id}")
    return int(count)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("address", help="host:port of the broker listener")
    parser.add_argument("--brokers", type=int, default=1, help="brokers the answer must list")
    parser.add_argument("--timeout", type=float, default=2.0, help="socket timeout in seconds")
    args = parser.parse_args()
    try:
        count = broker_count(args.address, args.timeout)
    except (OSError, ConnectionError, struct.error) as exc:
        print(f"{args.address}: not answering metadata ({exc})", file=sys.stderr)
        return 1
    if count < args.brokers:
        print(f"{args.address}: {count} of {args.brokers} brokers registered", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
