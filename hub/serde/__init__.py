"""Confluent wire format with fastavro: encode and decode canonical records.

Bytes on the wire: magic byte 0, the 4-byte big-endian schema id, Avro binary. Decoding
resolves the writer's schema by id and reads into the reader's (current) schema, so
records written with older versions stay readable.
"""

from hub.serde._serde import AvroSerde, pack, unpack

__all__ = ["AvroSerde", "pack", "unpack"]
