"""``--store-bodies DIR``: every body saved once under its SHA-1 (``ab/cd/abcd...``), written to
a part file and renamed into place, through aiofiles."""

from __future__ import annotations

import itertools
import os

import aiofiles
import aiofiles.os

from crawler.errors import FatalError

_parts = itertools.count()


async def store_body(folder: str, body: bytes, digest: str) -> str:
    """Save ``body`` (whose SHA-1 is ``digest``) under ``folder`` unless it is there already;
    its path. A failure to write is fatal, as for the output."""
    where = os.path.join(folder, digest[:2], digest[2:4])
    path = os.path.join(where, digest)
    try:
        if not await aiofiles.os.path.exists(path):
            await aiofiles.os.makedirs(where, exist_ok=True)
            part = f"{path}.{os.getpid()}.{next(_parts)}.part"  # the same body twice at once: two parts
            async with aiofiles.open(part, "wb") as f:
                await f.write(body)
            await aiofiles.os.replace(part, path)
    except OSError as e:
        raise FatalError(f"cannot write body to {folder}: {e.strerror or e}") from None
    return path


__all__ = ["store_body"]
