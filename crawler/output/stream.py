"""The Redis stream output: ``-o redis://host:port/db/NAME``, or on a Redis Cluster
``-o redis+cluster://host:port,host:port/NAME`` (a ``redis://`` node of a cluster is found to be one)."""

from __future__ import annotations

import json
from typing import Any

from crawler.errors import FatalError, UsageError
from crawler.output.encoders import records_of
from crawler.reconnect import Reconnecting
from crawler.redisconn import REDIS_CLUSTER_SCHEMES, connect
from crawler.settings.masking import mask_url


class RedisStreamSink:
    """Records and items appended to a Redis stream (``-o redis://host:port/db/NAME``), one
    entry each with the JSON object in its ``data`` field, for one consumer to read (XREAD).

    A Redis that restarts is waited for (``redis_reconnect`` seconds) and the batch written
    again: no record is lost; one whose reply was lost on its way back may be there twice."""

    captures = False

    def __init__(self, url: str, reconnect_for: float = 30.0) -> None:
        base, _, stream = url.rstrip("/").rpartition("/")
        on_cluster = url.startswith(REDIS_CLUSTER_SCHEMES)  # a cluster has no db: redis+cluster://h:p,h:p/NAME
        if not stream or base.count("/") < (2 if on_cluster else 3):
            raise UsageError(f"--output: a Redis stream is redis://host:port/db/NAME (or redis+cluster://host:port,"
                             f"host:port/NAME), got {mask_url(url)!r}")
        self.url, self.stream = base, stream
        self.path = url
        self.name = mask_url(url)  # in messages
        self.offset = 0
        self._client: Any = None
        self._calls = Reconnecting(mask_url(self.url), "--output", reconnect_for)

    def state(self) -> dict[str, str]:
        """Nothing to commit: a stream is not cut back."""
        return {}

    async def open(self) -> None:
        """Connect (a usage error when the server cannot be reached)."""
        try:
            self._client, _ = await connect(self.url)  # a Redis Cluster's too (the stream's key picks its node)
        except Exception as e:
            raise UsageError(f"--output: cannot reach Redis at {mask_url(self.url)}: {e}") from None

    async def write_entries(self, entries: list[Any]) -> None:
        """XADD every record and item of the batch, in one round trip."""
        records = list(records_of(entries))
        if not records:
            return
        entries = [{"data": json.dumps(data, ensure_ascii=False)} for data in records]

        async def append() -> Any:
            pipe = self._client.pipeline(transaction=False)
            for entry in entries:
                pipe.xadd(self.stream, entry)
            return await pipe.execute()

        try:
            await self._calls.call(append)
        except FatalError:
            raise
        except Exception as e:
            raise FatalError(f"cannot write output {self.name}: {e}") from None
        self.offset += len(records)

    async def sync(self) -> None:
        """Redis has them already."""

    async def close(self) -> None:
        """Disconnect."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
