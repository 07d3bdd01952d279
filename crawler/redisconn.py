"""Connecting to Redis, one server or a Redis Cluster, for the stages that use it (the frontier,
the stream output): ``redis+cluster://host:port,host:port`` asks for a cluster, and a
``redis://`` server found in cluster mode is taken as one."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

REDIS_CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")  # a Redis Cluster's URLs


def cluster_nodes(url: str) -> tuple[list[tuple[str, int]], dict[str, Any]]:
    """The start nodes of ``redis+cluster://[user:password@]host:port,host:port`` (port 6379 when
    left out) and the client's options (credentials, TLS for ``rediss+cluster://``)."""
    rest = url.split("://", 1)[1]
    netloc = rest.split("/", 1)[0]
    auth, _, hosts = netloc.rpartition("@")
    options: dict[str, Any] = {"ssl": url.startswith("rediss+")}
    if auth:
        user, colon, password = auth.partition(":")
        options.update(username=unquote(user) or None, password=unquote(password) if colon else None)
    nodes = []
    for node in filter(None, hosts.split(",")):
        host, colon, port = node.rpartition(":")
        if not colon or not port.isdigit():
            host, port = node, "6379"
        nodes.append((host.strip("[]"), int(port)))
    if not nodes:
        raise ValueError(f"no host:port in {url.split('@')[-1]!r}")
    return nodes, options


async def connect(url: str, **options: Any) -> tuple[Any, bool]:
    """A client of the Redis at ``url`` that has answered, and whether it is a cluster (asked
    for with ``redis+cluster://``, or found: a ``redis://`` server in cluster mode). Raises what
    redis-py raises when no node answers."""
    import redis.asyncio
    from redis.asyncio.cluster import ClusterNode, RedisCluster

    if url.startswith(REDIS_CLUSTER_SCHEMES):
        nodes, more = cluster_nodes(url)
        nodes_ = [ClusterNode(host, port) for host, port in nodes]
        return await _cluster(RedisCluster(startup_nodes=nodes_, **more, **options)), True
    client = redis.asyncio.from_url(url, **options)
    try:
        await client.ping()
        single = url.startswith("unix://") or not await _in_cluster_mode(client)
    except BaseException:
        await client.aclose()
        raise
    if single:
        return client, False
    await client.aclose()
    return await _cluster(RedisCluster.from_url(url, **options)), True


async def _in_cluster_mode(client: Any) -> bool:
    """Whether the server says it is a node of a cluster (a server that will not say is not)."""
    from redis.exceptions import ResponseError

    try:
        return bool((await client.info("cluster")).get("cluster_enabled"))
    except ResponseError:  # INFO refused (an ACL): a plain server, as before clusters were found
        return False


async def _cluster(cluster: Any) -> Any:
    """``cluster``, once it has learnt the cluster's slots (closed if it cannot)."""
    try:
        await cluster.initialize()
    except BaseException:
        await cluster.aclose()
        raise
    return cluster


__all__ = ["REDIS_CLUSTER_SCHEMES", "cluster_nodes", "connect"]
