"""``--workers N`` on one machine, without Redis: one crawl split by host among N processes.

- ``coordinator.py``: forks the processes, routes their calls, ends the crawl by counting,
  restarts a killed one (with a job), stops them all once;
- ``frontier.py``: each process's frontier, its own hosts kept in its own store, the others'
  sent to their owner through the coordinator's router (``router.py``);
- ``channel.py``: the framed messages between a process and the coordinator;
- ``merge.py``: the processes' output parts copied into the one output, exactly once;
- ``stats.py``: their statistics added up.

The path through Redis (``--frontier redis://... --workers N``) is ``crawler/cli/redisworkers.py``.
"""
