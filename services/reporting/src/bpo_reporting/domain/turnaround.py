"""Turnarounds, binned: an item's time from receipt to completion, and its percentiles.

Turnaround bins are log-spaced, BINS_PER_DOUBLING to each doubling of time: bin b holds
[2^(b/8), 2^((b+1)/8)) seconds and is read as its geometric middle, so a percentile is
within 2^(1/16) - 1 (4.4 %) of the true one. Bin 0 also holds everything under a second;
the last bin, everything from about 34 years.
"""

import math
from collections.abc import Iterable, Mapping

BINS_PER_DOUBLING = 8
LAST_BIN = 30 * BINS_PER_DOUBLING
TURNAROUND_PRECISION = 2 ** (1 / (2 * BINS_PER_DOUBLING)) - 1

# Items per bin.
Bins = Mapping[int, int]


def turnaround_bin(seconds: float) -> int:
    if seconds < 1:
        return 0
    return min(int(math.log2(seconds) * BINS_PER_DOUBLING), LAST_BIN)


def bin_seconds(bin_: int) -> float:
    """The value a bin stands for: its geometric middle."""
    return float(2 ** ((bin_ + 0.5) / BINS_PER_DOUBLING))


def percentile(bins: Bins, fraction: float) -> float | None:
    """The nearest-rank percentile of the binned values (None when there are none), to 0.1 s."""
    total = sum(bins.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for bin_ in sorted(bins):
        seen += bins[bin_]
        if seen >= rank:
            return round(bin_seconds(bin_), 1)
    raise AssertionError("unreachable: the ranks add up to the total")


def merged(per_client: Iterable[Bins]) -> dict[int, int]:
    """Several clients' bins as one."""
    total: dict[int, int] = {}
    for bins in per_client:
        for bin_, items in bins.items():
            total[bin_] = total.get(bin_, 0) + items
    return total
