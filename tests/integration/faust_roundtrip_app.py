"""A minimal Faust app for the client-pairing test (run as a subprocess).

An agent reads raw bytes from $SRC, counts them in a table (so a changelog topic is
written) and forwards each value upper-cased to $DST with the same key.

    python faust_roundtrip_app.py worker   (env: BOOTSTRAP, APP_ID, SRC, DST, WEB_PORT)
"""

from __future__ import annotations

import os

import faust

app = faust.App(
    os.environ["APP_ID"],
    broker=f"kafka://{os.environ['BOOTSTRAP']}",
    store="memory://",
    web_port=int(os.environ["WEB_PORT"]),
    web_host="127.0.0.1",
    topic_replication_factor=1,
    topic_partitions=2,
    datadir=os.environ.get("DATADIR", "/tmp/faust-roundtrip"),  # noqa: S108
    consumer_auto_offset_reset="earliest",
)
source = app.topic(os.environ["SRC"], value_serializer="raw", key_serializer="raw")
destination = app.topic(os.environ["DST"], value_serializer="raw", key_serializer="raw")
seen = app.Table("seen", default=int, partitions=2)


@app.agent(source)
async def forward(stream):  # type: ignore[no-untyped-def]
    async for key, value in stream.items():
        seen[key.decode()] += 1
        await destination.send(key=key, value=value.upper())


if __name__ == "__main__":
    app.main()
