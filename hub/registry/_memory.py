"""`MemoryRegistry`: schema ids handed out in memory, for unit tests and the offline
benchmark loops (no Kafka, no compatibility checks): the two calls `AvroSerde` makes."""

from __future__ import annotations


class MemoryRegistry:
    """The same schema text gets the same id; ids count from 1."""

    def __init__(self) -> None:
        self.schemas: dict[int, str] = {}

    async def register(self, subject: str, schema: str) -> int:
        for schema_id, text in self.schemas.items():
            if text == schema:
                return schema_id
        self.schemas[len(self.schemas) + 1] = schema
        return len(self.schemas)

    async def schema_by_id(self, schema_id: int) -> str:
        return self.schemas[schema_id]
