"""Partitions of products into groups (nests, firms, firm-nest cells) and their reductions.

Why: every demand and pricing evaluation sums or maximises over the products of a nest or a
firm; doing that with the right numpy primitive for the problem's shape is what keeps the
numpy reference path of the solver fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

_DENSE_LIMIT = 8192  # largest K*J for which group sums use a dense (K, J) indicator matmul


@dataclass(frozen=True, eq=False)
class _Groups:
    """A partition of the J products into groups (nests, firms, firm-nest cells).

    Internally arrays are product-major, shape (J, G), so that every reduction over products
    runs over whole rows of length G. ``ufunc.reduceat`` along the product axis is slow for
    these shapes (numpy loops over the few rows of each group once per column), so for the
    small problems of the simulation group sums are a product with a dense (K, J) 0/1
    indicator and group maxima a maximum over a (K, largest group, G) gather in which short
    groups repeat their first product; larger problems fall back to ``reduceat`` over the rows
    sorted by group, O(G*J) whatever the number of groups. Expansion back to products is a
    cheap ``np.repeat`` when the products are already sorted by group (the solver arranges
    this), a gather otherwise.
    """

    code: NDArray[np.intp]  # (J,) group index 0..K-1 of every product
    order: NDArray[np.intp]  # (J,) permutation sorting products by group
    starts: NDArray[np.intp]  # (K,) first position of each group in the sorted order
    counts: NDArray[np.intp]  # (K,) group sizes
    contiguous: bool  # products already sorted by group (order is the identity)
    indicator: NDArray[np.float64] | None  # (K, J) membership, if K*J <= _DENSE_LIMIT
    padded: NDArray[np.intp] | None  # (K, largest group) member rows, if not much padding

    @classmethod
    def from_ids(cls, ids: ArrayLike | None, n_products: int) -> _Groups:
        """Build the partition from arbitrary ids (``None``: every product on its own)."""
        new_group = np.ones(n_products, dtype=bool)
        if ids is None:
            code = np.arange(n_products, dtype=np.intp)
            contiguous = True
        else:
            arr = np.asarray(ids)
            if arr.shape != (n_products,):
                raise ValueError(f"group ids must have shape ({n_products},), got {arr.shape}")
            contiguous = arr.dtype.kind in "iub" and bool(np.all(arr[1:] >= arr[:-1]))
            if contiguous:  # sorted integer ids (the common case): number the runs
                np.not_equal(arr[1:], arr[:-1], out=new_group[1:])
                code = np.cumsum(new_group, dtype=np.intp) - 1
            else:
                _, code = np.unique(arr, return_inverse=True)
                code = code.astype(np.intp).reshape(n_products)
                contiguous = bool(np.all(code[1:] >= code[:-1]))
        order = (
            np.arange(n_products, dtype=np.intp)
            if contiguous
            else np.argsort(code, kind="stable").astype(np.intp)
        )
        sorted_code = code[order]
        if ids is not None:
            np.not_equal(sorted_code[1:], sorted_code[:-1], out=new_group[1:])
        starts = np.flatnonzero(new_group).astype(np.intp)
        counts = np.diff(starts, append=n_products).astype(np.intp)
        n_groups = starts.size
        indicator = None
        if 1 < n_groups < n_products and n_groups * n_products <= _DENSE_LIMIT:
            indicator = np.zeros((n_groups, n_products))
            indicator[code, np.arange(n_products)] = 1.0
        padded = None
        widest = int(counts.max()) if n_groups else 0
        if 1 < n_groups < n_products and n_groups * widest <= 4 * n_products:
            # position of every product within its group, then short groups repeat member 0
            rank = np.arange(n_products) - np.repeat(starts, counts)
            padded = np.repeat(order[starts][:, None], widest, axis=1)
            padded[sorted_code, rank] = order
        return cls(
            code=code,
            order=order,
            starts=starts,
            counts=counts,
            contiguous=contiguous,
            indicator=indicator,
            padded=padded,
        )

    @property
    def n_groups(self) -> int:
        """Number of distinct groups."""
        return int(self.starts.size)

    @property
    def all_singletons(self) -> bool:
        """True if every product is alone in its group."""
        return self.n_groups == self.code.size

    def max(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Maximum of ``x`` (J, G) over the products of each group; returns (K, G)."""
        if self.padded is not None:
            return x[self.padded].max(axis=1)
        xs = x if self.contiguous else x[self.order]
        return np.maximum.reduceat(xs, self.starts, axis=0)

    def sum(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Sum of ``x`` (J, G), which must be finite, over the products of each group: (K, G)."""
        if self.indicator is not None:
            return self.indicator @ x
        xs = x if self.contiguous else x[self.order]
        return np.add.reduceat(xs, self.starts, axis=0)

    def expand(self, y: NDArray[np.float64]) -> NDArray[np.float64]:
        """Map a per-group array (K, G) back to products (J, G)."""
        if self.contiguous:
            return np.repeat(y, self.counts, axis=0)
        return y[self.code]

    def sum_back(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """For every product, the sum of ``x`` over the products of its group; (J, G)."""
        if self.all_singletons:
            return x
        return self.expand(self.sum(x))
