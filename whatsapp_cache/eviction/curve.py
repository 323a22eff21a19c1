"""Exact-LRU hit ratio for every cache size in one pass over a trace (Mattson et al., 1970).

LRU has the inclusion property: a cache of size C holds the C most recently used keys, everything a
cache of size C-1 holds. So a request hits in a cache of size C iff its stack distance (the depth of
its key in one recency stack, 1 = most recent) is <= C, and one histogram of stack distances gives
every size's exact hit ratio, instead of one replay per size.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from ..errors import InvalidInput

COLD = 0
"""Stack distance given to the first request of a key (a cold miss: it misses at every size)."""

_SORTABLE_KINDS = "biufcUSmM"   # numpy dtype kinds whose equality and order numpy can sort on


# ---------------------------------------------------------------------------------------------
# Input
# ---------------------------------------------------------------------------------------------

def _as_keys(trace: object) -> np.ndarray:
    """A 1-D numpy array of sortable keys standing for `trace`, equal where the keys are equal.

    Numeric, string, bytes and datetime arrays are used as they are; a list, tuple or object array
    is mapped to dense ints with a dict, so keys are equal exactly when Python says so (as in a
    dict-based cache: 1, 1.0 and True are one key).
    """
    if isinstance(trace, np.ndarray):
        if trace.ndim != 1:
            raise InvalidInput(f"trace must be one-dimensional, got an array of shape {trace.shape}")
        if trace.dtype.kind in _SORTABLE_KINDS:
            missing = np.isnan if trace.dtype.kind in "fc" else np.isnat if trace.dtype.kind in "mM" else None
            if missing is not None and missing(trace).any():
                raise InvalidInput("trace has a key that is not equal to itself (NaN or NaT)")
            return trace
        if trace.dtype.kind != "O":
            raise InvalidInput(f"trace has unsupported dtype {trace.dtype}")
        items = trace.tolist()
    elif isinstance(trace, (str, bytes, bytearray)):
        raise InvalidInput(f"trace must be a sequence of keys, not a {type(trace).__name__}")
    elif isinstance(trace, Sequence):
        items = trace
    else:
        raise InvalidInput(f"trace must be a list, tuple or 1-D numpy array of keys, "
                           f"not {type(trace).__name__}")
    ids: dict = {}
    setdefault = ids.setdefault
    try:
        dense = [setdefault(key, len(ids)) for key in items]
    except TypeError as exc:    # an unhashable key
        raise InvalidInput(f"every key of a trace must be hashable: {exc}") from None
    for key in ids:
        if key != key:  # noqa: PLR0124 -- NaN and the like: never equal to itself, never a hit
            raise InvalidInput(f"trace has a key that is not equal to itself: {key!r}")
    return np.fromiter(dense, dtype=np.int64, count=len(dense))


def _previous_requests(keys: np.ndarray) -> tuple[np.ndarray, int]:
    """`prev` (position of the previous request of the same key, -1 for none) and the key count."""
    n = len(keys)
    index_type = np.int32 if n < 2**31 else np.int64
    prev = np.full(n, -1, dtype=index_type)
    if n == 0:
        return prev, 0
    order = np.argsort(keys, kind="stable").astype(index_type, copy=False)
    ordered = keys[order]
    repeat = ordered[1:] == ordered[:-1]
    prev[order[1:][repeat]] = order[:-1][repeat]
    return prev, n - int(np.count_nonzero(repeat))


# ---------------------------------------------------------------------------------------------
# Stack distances
# ---------------------------------------------------------------------------------------------

def _smaller_earlier(values: np.ndarray, limit: int) -> np.ndarray:
    """For each i, #{i' < i : values[i'] < values[i]}; `values` are distinct ints in [0, limit).

    An offline 2-D dominance count in O(log m) passes of O(m) numpy work, no per-element Python: a
    top-down radix (wavelet-matrix-like) partition on the bits of the time index i. Before level k
    the elements are ordered by (i >> (k+1), value): blocks of 2**(k+1) consecutive i, each sorted by
    value. Inside a block, an element of the later half (bit k of i is 1) is preceded in value order
    by exactly the earlier-half elements with a smaller value, which a cumulative sum counts for all
    elements at once. Summed over the levels, every pair i' < i is counted once, at the highest bit
    where they differ. A stable partition of each block by bit k gives level k-1's order with one
    scatter and no sort; after level 0 the order is time order again. Returns values' dtype.
    """
    m = len(values)
    dtype = values.dtype
    if m == 0:
        return np.zeros(0, dtype=dtype)
    # Order of i by value, without a sort: the values are distinct and bounded.
    slot = np.full(limit, -1, dtype=dtype)
    slot[values] = np.arange(m, dtype=dtype)
    idx = slot[slot >= 0]              # idx[q] = time index i of the element at position q
    del slot
    count = np.zeros(m, dtype=dtype)   # count[q] = the answer so far for the element at q
    pos = np.arange(m, dtype=dtype)
    bit, ones_before, zeros_before = np.empty(m, dtype), np.empty(m, dtype), np.empty(m, dtype)
    half_blocks, scratch = np.empty(m, dtype), np.empty(m, dtype)
    later = np.empty(m, dtype=bool)
    next_idx, next_count = np.empty(m, dtype), np.empty(m, dtype)
    for k in range((m - 1).bit_length() - 1, -1, -1):
        # Blocks of 2**(k+1) positions; bit k of i says earlier half (0) or later half (1).
        np.right_shift(idx, k, out=bit)
        np.bitwise_and(bit, 1, out=bit)
        np.cumsum(bit, out=ones_before)
        np.subtract(ones_before, bit, out=ones_before)          # later-half elements before q
        np.subtract(pos, ones_before, out=zeros_before)         # earlier-half elements before q
        # Every block before q's is full, with 2**k of each half: q's block starts at
        # 2 * half_blocks, and 'half_blocks' earlier-half elements precede it.
        np.right_shift(pos, k + 1, out=half_blocks)
        np.left_shift(half_blocks, k, out=half_blocks)
        # Later-half element: the earlier-half elements before it in its block have smaller values.
        np.subtract(zeros_before, half_blocks, out=scratch)
        np.multiply(scratch, bit, out=scratch)
        np.add(count, scratch, out=count)
        # Stable partition of each block, earlier half first:
        # earlier-half destination = block start + earlier-half rank within the block
        #                          = half_blocks + zeros_before;
        # later-half destination   = block start + 2**k + later-half rank within the block
        #                          = half_blocks + 2**k + ones_before.
        np.add(ones_before, 1 << k, out=ones_before)
        np.not_equal(bit, 0, out=later)
        np.copyto(zeros_before, ones_before, where=later)
        np.add(zeros_before, half_blocks, out=zeros_before)
        next_idx[zeros_before] = idx
        next_count[zeros_before] = count
        idx, next_idx = next_idx, idx
        count, next_count = next_count, count
    return count                       # idx is now 0..m-1: count is in time order


def stack_distances(trace) -> np.ndarray:
    """The LRU stack distance of every request of `trace`, as an int64 array of the same length.

    1 means the key was the most recently used one, d means d-1 other distinct keys were requested
    since its previous request; the first request of a key gets ``COLD`` (0). A request hits in an
    exact-LRU cache of size C iff ``1 <= distance <= C``.

    `trace` is a list, tuple or 1-D numpy array of hashable keys. Runs in O(n log n) numpy work
    (about 0.3 s for a million requests).
    """
    # For request t whose key was last requested at p, the distance is the number of distinct keys
    # requested in (p, t) plus one. A position j in (p, t) is either its key's first request in the
    # window (prev[j] < p) or a repeat nested in it (p < prev[j] < j < t), so
    #     distance(t) = t - p - nested(t),  nested(t) = #{reuses j < t with prev[j] > prev[t]}.
    # Numbering the reuses i = 0..m-1 in time order (their prev values are distinct),
    # nested = i - smaller_earlier(i), with smaller_earlier(i) = #{i' < i : prev[i'] < prev[i]}.
    keys = _as_keys(trace)
    n = len(keys)
    prev, _ = _previous_requests(keys)  # the only sort: one stable argsort of the trace
    reuse_at = np.flatnonzero(prev >= 0).astype(prev.dtype, copy=False)   # t, in time order
    reuse_prev = prev[reuse_at]                                            # p
    del prev
    smaller = _smaller_earlier(reuse_prev, n)
    distances = np.full(n, COLD, dtype=np.int64)
    # distance = t - p - nested, nested = i - smaller  (i = rank of the reuse in time order)
    reuse_distance = reuse_at.astype(np.int64)
    reuse_distance -= reuse_prev
    reuse_distance -= np.arange(len(reuse_at), dtype=np.int64)
    reuse_distance += smaller
    distances[reuse_at] = reuse_distance
    return distances


def stack_distances_reference(trace) -> np.ndarray:
    """Same result as ``stack_distances``, by the textbook method, in pure Python (slow).

    A Fenwick (binary indexed) tree over request positions holds a 1 at the latest request of each
    key seen so far. At request t of a key last requested at p, the marks after p are the distinct
    keys requested since, so the distance is that count plus one; then the mark moves from p to t.
    O(n log n) Python steps: fine for tests and explanations, not for millions of requests.
    """
    keys = _as_keys(trace).tolist()
    n = len(keys)
    tree = [0] * (n + 1)               # 1-based Fenwick tree over positions 0..n-1

    def add(position: int, delta: int) -> None:
        i = position + 1
        while i <= n:
            tree[i] += delta
            i += i & -i

    def marks_up_to(position: int) -> int:     # marks at positions 0..position
        i, total = position + 1, 0
        while i > 0:
            total += tree[i]
            i -= i & -i
        return total

    last: dict = {}
    distances = np.full(n, COLD, dtype=np.int64)
    live = 0                           # number of marks = distinct keys so far
    for t, key in enumerate(keys):
        p = last.get(key)
        if p is None:
            live += 1
        else:
            distances[t] = live - marks_up_to(p) + 1
            add(p, -1)
        add(t, 1)
        last[key] = t
    return distances


# ---------------------------------------------------------------------------------------------
# Hit ratios
# ---------------------------------------------------------------------------------------------

def _checked_sizes(sizes, distinct: int) -> np.ndarray:
    if sizes is None:
        return np.arange(1, distinct + 1, dtype=np.int64)
    if isinstance(sizes, (bool, np.bool_)):
        raise InvalidInput("cache sizes must be integers, not booleans")
    if isinstance(sizes, (int, np.integer)):
        sizes = [sizes]
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, (Sequence, np.ndarray, range)):
        raise InvalidInput(f"sizes must be a sequence of integers, not {type(sizes).__name__}")
    array = np.asarray(sizes)
    if array.ndim != 1:
        raise InvalidInput(f"sizes must be one-dimensional, got shape {array.shape}")
    if len(array) and (array.dtype.kind not in "iu"):
        raise InvalidInput(f"cache sizes must be integers, got dtype {array.dtype}")
    array = array.astype(np.int64)
    if np.any(array < 0):
        raise InvalidInput(f"cache sizes must be >= 0, got {int(array.min())}")
    return array


def _hits_from_distances(distances: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Hits at each size: requests with 1 <= distance <= size."""
    largest = int(distances.max()) if len(distances) else 0
    cumulative = np.cumsum(np.bincount(distances, minlength=largest + 1))
    cumulative -= cumulative[0]        # drop the cold misses (distance 0)
    return cumulative[np.minimum(sizes, largest)]


def curve_from_distances(distances, sizes=None) -> tuple[np.ndarray, np.ndarray]:
    """``hit_ratio_curve`` from distances already computed by ``stack_distances``.

    Computing the distances once and asking for many curves (or many sizes) avoids redoing the
    O(n log n) part.
    """
    distances = np.asarray(distances)
    if distances.ndim != 1 or (len(distances) and distances.dtype.kind not in "iu"):
        raise InvalidInput("distances must be a 1-D integer array, as stack_distances returns")
    if len(distances) == 0:
        raise InvalidInput("an empty trace has no hit ratio")
    if distances.min() < 0:
        raise InvalidInput("stack distances are >= 0 (0 marks a first request)")
    distances = distances.astype(np.int64, copy=False)
    distinct = int(np.count_nonzero(distances == COLD))
    sizes = _checked_sizes(sizes, distinct)
    hits = _hits_from_distances(distances, sizes)
    return sizes, hits / len(distances)


def hit_ratio_curve(trace, sizes=None) -> tuple[np.ndarray, np.ndarray]:
    """Exact-LRU hit ratio of `trace` at each cache size, from one pass: ``(sizes, ratios)``.

    `sizes` defaults to every size from 1 to the number of distinct keys (beyond it nothing
    changes: only cold misses are left). Sizes are counted in keys (entries), like an LRU cache
    with a maximum number of entries; a size of 0 is allowed and never hits. The cache starts
    empty. Returns two arrays of the same length: the sizes (int64, in the order given) and the
    hit ratios (float64, hits / requests).
    """
    return curve_from_distances(stack_distances(trace), sizes)


def hits_at(trace, size: int) -> int:
    """Number of hits of an exact-LRU cache of `size` keys, starting empty, over `trace`."""
    if isinstance(size, (bool, np.bool_)) or not isinstance(size, (int, np.integer)):
        raise InvalidInput(f"cache size must be an integer, not {type(size).__name__}")
    if size < 0:
        raise InvalidInput(f"cache size must be >= 0, got {size}")
    distances = stack_distances(trace)
    return int(_hits_from_distances(distances, np.array([size], dtype=np.int64))[0])


def replay_lru_hits(trace, size: int) -> int:
    """Hits of an exact-LRU cache of `size` keys by replaying `trace` through an OrderedDict.

    The slow, direct way (one replay per size), for checking and for timing against the curve.
    """
    if isinstance(size, (bool, np.bool_)) or not isinstance(size, (int, np.integer)):
        raise InvalidInput(f"cache size must be an integer, not {type(size).__name__}")
    if size < 0:
        raise InvalidInput(f"cache size must be >= 0, got {size}")
    keys = _as_keys(trace).tolist()
    if size == 0:
        return 0
    cache: OrderedDict = OrderedDict()
    move_to_end, popitem = cache.move_to_end, cache.popitem
    hits = 0
    for key in keys:
        if key in cache:
            hits += 1
            move_to_end(key)
        else:
            if len(cache) >= size:
                popitem(last=False)
            cache[key] = None
    return hits


__all__ = ["COLD", "curve_from_distances", "hit_ratio_curve", "hits_at", "replay_lru_hits",
           "stack_distances", "stack_distances_reference"]


def smallest_size_for(target: float, trace) -> int | None:
    """The smallest exact-LRU cache, in keys, whose hit ratio over `trace` reaches `target`; None if none does.

    One pass (hit_ratio_curve over every size); `target` is a fraction from 0 to 1.
    """
    return _smallest(target, trace)[0]


def share_of_keys_for(target: float, trace) -> float | None:
    """smallest_size_for as a share of the trace's distinct keys (what a cache must hold of the data set)."""
    size, distinct = _smallest(target, trace)
    return None if size is None else size / distinct


def _smallest(target: float, trace) -> tuple[int | None, int]:
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0 <= target <= 1:
        raise InvalidInput(f"target must be a hit ratio from 0 to 1, got {target!r}")
    sizes, ratios = hit_ratio_curve(trace)  # every size from 1 to the number of distinct keys
    reached = np.nonzero(ratios >= target)[0]
    return (int(sizes[reached[0]]) if len(reached) else None), len(sizes)
