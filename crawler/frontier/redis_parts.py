"""Where a Redis crawl's keys live: one Redis server, or a Redis Cluster.

On one server every key of crawl ID starts with ``crawler:{ID}:`` (one part). On a Redis Cluster
(``--frontier redis+cluster://host:port,host:port``, or a ``redis://`` URL whose server says it
is in cluster mode) the crawl is cut into :data:`PARTS` parts by host (CRC-32 of ``host[:port]``,
:func:`crawler.work.shard_of`): part p's keys start with ``crawler:{TAG}:``, TAG a hash tag whose
slot is in the p-th sixteenth of the 16,384 slots, so the parts spread over the masters as the
slots do, and every script works in one part: one slot. A host's queue, its URLs' fingerprints,
its schedule, its leases live in its host's part; the one crawl-wide key, the ``--max-pages``
budget counter, is ``crawler:{ID}:accepted``.

A part's keys (on one server, the crawl's):

- ``s:LEVEL:BUCKET``: the seen set, 64-bit URL fingerprints (``seen.stable_fingerprint``, as
  signed decimals) in small sets of integers that Redis packs at 8 bytes a member, split as the
  crawl grows (linear hashing, ``seenstate``: see ``lua/lib.lua``); SADD is the dedupe test.
- ``q:HOST``: list of queued requests of one host (``codec.request_to_text``: a plain page in a
  compact line, others JSON); ``queued``: how many in all.
- ``ready``: sorted set of hosts that have queued requests and a free slot, scored by the
  earliest time (ms, Redis's clock) their next request may start; ``next``, ``busy`` and
  ``delay`` (hashes by host): that time, the slots in use (``--per-host`` across all
  processes), a host's own delay (Crawl-delay, throttling).
- ``leases`` (sorted set of lease ids by deadline), ``lease``/``lhost``/``slot`` (hashes by
  lease id): every request handed out is leased until its record is written (ack); one whose
  lease runs out (its process died) goes back to the head of its host's queue, and after
  ``retries`` + 1 lost leases to the ``dead`` list.
- ``owner``: redirect target fingerprint -> the fingerprint of the URL that redirected there
  first (the target is fetched as that URL's, once).
- ``done``: URLs acked; ``workers``: each process's last heartbeat (ms); ``moved:TOKEN``: a
  request redirected here from another part (kept a minute, so a call tried again is a no-op).
"""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Any

from crawler.errors import FatalError
from crawler.frontier.seen import stable_fingerprint
from crawler.redisconn import connect

# The scripts, in crawler/frontier/lua/: each change to the crawl's keys is one of them (lib.lua is
# prepended to each).
SCRIPTS = ("add", "get", "release", "retry", "ack", "give_back", "hold", "claim", "move", "budget", "handover")


def script(name: str) -> str:
    """The Lua text of script ``name``."""
    lua = resources.files(__package__).joinpath("lua")
    text = lua.joinpath(f"{name}.lua").read_text("utf-8")
    return lua.joinpath("lib.lua").read_text("utf-8") + text


PARTS = 16  # parts of a crawl on a Redis Cluster (so up to 16 masters share its keys)
SLOTS = 16384  # Redis Cluster's hash slots


def fingerprint(key: str) -> str:
    """What a URL is known by in the seen set: its 64-bit fingerprint as a signed decimal (the
    form Redis keeps in a set of integers)."""
    return str(stable_fingerprint(key))


#: A crawl begun by crawler 0.1 on one server keeps its seen set here: the first 8 bytes of the
#: SHA-1 of each request's key (and its redirect owners by those too). It is not converted (the
#: URLs are not kept, only their hashes): the scripts ask it too, so every URL it knows stays
#: seen, and the crawl goes on where 0.1 left it.
LEGACY_SEEN = "seen"


def legacy_fingerprint(key: str) -> bytes:
    """What 0.1 knew a request by in :data:`LEGACY_SEEN`."""
    return hashlib.sha1(key.encode("utf-8")).digest()[:8]


async def begun_by_01(client: Any, crawl_id: str, cluster: bool) -> bool:
    """Was crawl ``crawl_id`` begun by crawler 0.1 (its :data:`LEGACY_SEEN` set is there)? On a
    cluster, where this version splits a crawl's keys in parts and 0.1 did not, a FatalError
    saying so."""
    if not await client.exists(key_prefix(crawl_id) + LEGACY_SEEN):
        return False
    if cluster:
        raise FatalError(f"--frontier: crawl {crawl_id!r} was begun by crawler 0.1 on this Redis Cluster, whose "
                         "keys this version splits in parts: finish it with crawler 0.1")
    return True


def key_prefix(crawl_id: str) -> str:
    """The crawl-wide keys' prefix, ``crawler:{ID}:`` (on one server, every key's)."""
    return f"crawler:{{{crawl_id}}}:"


def part_prefixes(crawl_id: str, cluster: bool) -> list[str]:
    """The prefixes of the crawl's parts: one on one server, :data:`PARTS` on a cluster (the
    same in every process: each tag is the first ``ID/p.N`` whose slot falls in part p's
    range)."""
    if not cluster:
        return [key_prefix(crawl_id)]
    from redis.crc import key_slot

    prefixes = []
    for p in range(PARTS):
        low, high = p * SLOTS // PARTS, (p + 1) * SLOTS // PARTS
        n = 0
        while not low <= key_slot(f"{crawl_id}/{p}.{n}".encode("utf-8", "surrogatepass")) < high:
            n += 1
        prefixes.append(f"crawler:{{{crawl_id}/{p}.{n}}}:")
    return prefixes


async def crawl_status(url: str, crawl_id: str) -> dict[str, Any]:
    """Figures of a crawl for ``python -m crawler status``, added up over its parts."""
    client, cluster = await connect(url, decode_responses=True)
    names = ("queued", "leases", "done", "seen", "hosts_ready", "hosts_busy", "dead")
    figures: dict[str, Any] = dict.fromkeys(names, 0)
    beats: dict[str, int] = {}
    try:
        now_s, now_us = await client.time()
        now = now_s * 1000 + now_us // 1000
        for prefix in part_prefixes(crawl_id, cluster):
            figures["queued"] += int(await client.get(prefix + "queued") or 0)
            figures["leases"] += await client.zcard(prefix + "leases")
            figures["done"] += int(await client.get(prefix + "done") or 0)
            figures["seen"] += int(await client.hget(prefix + "seenstate", "count") or 0)
            figures["hosts_ready"] += await client.zcard(prefix + "ready")
            figures["hosts_busy"] += sum(1 for v in (await client.hvals(prefix + "busy")) if int(v) > 0)
            figures["dead"] += await client.llen(prefix + "dead")
            for worker, beat in (await client.hgetall(prefix + "workers")).items():
                beats[worker] = max(beats.get(worker, 0), int(beat))
    finally:
        await client.aclose()
    workers = {w: round((now - t) / 1000, 1) for w, t in sorted(beats.items())}
    return {"crawl_id": crawl_id, **figures, "workers": workers}
