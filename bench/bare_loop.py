"""The reference: the least a crawler must do. aiohttp GET, selectolax link extraction, a seen
set; no politeness, no normalization, no output. Prints one JSON line of figures.

    python bench/bare_loop.py http://127.0.0.1:8080/ 64
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from urllib.parse import urldefrag, urljoin

import aiohttp
from selectolax.lexbor import LexborHTMLParser


async def crawl(seed: str, concurrency: int) -> dict[str, float]:
    seen = {seed}
    queue: asyncio.Queue[str] = asyncio.Queue()
    queue.put_nowait(seed)
    prefix = seed.split("/", 3)[:3]
    origin = "/".join(prefix)
    pages = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal pages
        while True:
            url = await queue.get()
            try:
                async with session.get(url) as resp:
                    body = await resp.read()
                    pages += resp.status == 200
                for node in LexborHTMLParser(body).css("a[href]"):
                    link = urldefrag(urljoin(url, node.attributes.get("href") or ""))[0]
                    if link.startswith(origin) and link not in seen:
                        seen.add(link)
                        queue.put_nowait(link)
            finally:
                queue.task_done()

    start = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        workers = [asyncio.create_task(worker(session)) for _ in range(concurrency)]
        await queue.join()
        for w in workers:
            w.cancel()
    elapsed = time.perf_counter() - start
    return {"pages": pages, "elapsed_s": elapsed, "pages_per_s": pages / elapsed}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(crawl(sys.argv[1], int(sys.argv[2])))))
