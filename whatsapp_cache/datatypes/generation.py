"""Generations: a token that tells a reader whether a write came between its database read and its fill.

    miss:   SET gen <new token> NX PX ttl ; GET gen     (one round trip: the token now current)
    write:  SET gen <new token> PX ttl                  (inside the write's own script or MULTI)
    fill:   only if GET gen still returns the reader's token

A token is random and never reused, so a counter that vanished (evicted, flushed, a Redis restart)
can never make an old read look current again: the reader's token is simply gone, and its fill is
refused. A plain counter read as "" when absent was open to exactly that (absent, bumped, absent).
The same idea as the leases of "Scaling Memcache at Facebook" (NSDI 2013), without their herd control.
"""

from __future__ import annotations

import re

from ..keys import new_token
from ..resilience import execute_keeping_errors

TOKEN_PATTERN = re.compile(r"~g[0-9a-f]{16}")



def writer_claim(token: str) -> str:
    """The FILL script's first argument for a writer's own fill: set this new token, do not compare."""
    return "*" + token


def queue_claim(pipe, key: str, ttl_ms: int) -> None:
    """Queue a reader's claim: create the generation if absent, then read whichever token is current."""
    pipe.set(key, new_token(), nx=True, px=max(int(ttl_ms), 1))
    pipe.get(key)


def claimed(set_reply, get_reply) -> str | None:
    """The token a claim read; None if the key held something that is not a token (no fill then)."""
    if isinstance(set_reply, Exception) or isinstance(get_reply, Exception) or not isinstance(get_reply, str):
        return None
    return get_reply


def claim(client, key: str, ttl_ms: int) -> str | None:
    """A reader's claim in one pipelined round trip (see queue_claim); a foreign value reads as None."""
    pipe = client.pipeline(transaction=False)
    queue_claim(pipe, key, ttl_ms)
    return claimed(*execute_keeping_errors(pipe))
