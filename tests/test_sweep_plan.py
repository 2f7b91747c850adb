"""jaxmlp._sweep.plan: packing models into bins, indices, rates, chunks (NumPy only, fast)."""

from __future__ import annotations

import numpy as np

from jaxmlp._sweep import plan


def test_packing_fills_bins_without_overlap():
    widths = tuple(range(5, 51, 5))
    p = plan.pack(widths, 8, rows=200, n_devices=4, threads=2)
    member = p.member(widths)
    assert p.capacity == 50 and p.slots <= plan.MAX_SLOTS
    assert p.threads == 2 and p.n_bins % (4 * 2 * p.block) == 0
    # every unit belongs to at most one model, every model has exactly its width
    assert member.sum(axis=1).max() == 1
    assert member.sum() == 8 * sum(widths)
    for w, row in zip(widths, p.places, strict=True):
        for b, k, first in row:
            assert member[b, k, first : first + w].all() and member[b, k].sum() == w
    # little padding: 2200 units in bins of 50 need at least 44 bins
    used = np.flatnonzero(member.any(axis=(1, 2)))
    assert len(used) <= 46
    # at most MAX_SLOTS models per bin, even where more would fit (8 units, width 1)
    q = plan.pack((1, 8), 10, rows=10)
    assert q.slots == plan.MAX_SLOTS == 4
    assert q.member((1, 8)).any(axis=2).sum(axis=1).max() == 4


def test_one_model_per_bin_and_block_size():
    p = plan.pack((3, 5), 4, rows=100, max_slots=1)
    assert p.slots == 1 and p.n_bins == 8 and p.capacity == 5
    # blocks hold about BLOCK_ELEMENTS activations: a tiny grid is one block
    assert p.block == p.n_bins
    big = plan.pack(tuple(range(5, 51, 5)), 8, rows=200)
    assert big.block * big.capacity * 200 <= plan.BLOCK_ELEMENTS
    assert big.n_bins % big.block == 0


def test_softmax_grid_packs_four_slots_and_rates_share_bins():
    assert plan.pack((1, 8), 5, rows=30).slots == 4
    # two width-3 models (one per learning rate) share a bin of 8 units
    (bin_a, _, _), (bin_b, _, _) = plan.pack((3, 8), 2, rows=20).places[0]
    assert bin_a == bin_b


def test_indices_follow_places():
    widths = (2, 3)
    p = plan.pack(widths, 3, rows=10)
    member = p.member(widths)
    for w, ix in zip(widths, plan.indices(p, widths), strict=True):
        assert ix.units.shape == (3, w)
        for b, k, units in zip(ix.bins, ix.slots, ix.units, strict=True):
            assert member[b, k, units].all() and member[b, k].sum() == w


def test_slot_rates_are_seed_major():
    widths = (2, 3)
    p = plan.pack(widths, 4, rows=10)  # 2 seeds x 2 rates per width
    rates = plan.slot_rates(p, (0.1, 0.5))
    for row in p.places:
        got = [rates[b, k] for b, k, _ in row]
        np.testing.assert_allclose(got, [0.1, 0.5, 0.1, 0.5])


def test_default_chunk_prefers_divisors():
    assert plan.default_chunk(1000) == 100
    assert plan.default_chunk(12) == 2
    assert plan.default_chunk(997) == 100
    assert plan.default_chunk(1) == 1


def test_loss_steps_keep_first_and_last():
    np.testing.assert_array_equal(plan.loss_steps(5, 10), np.arange(5))
    kept = plan.loss_steps(1000, 7)
    assert kept[0] == 0 and kept[-1] == 999 and len(kept) == 7
    assert np.all(np.diff(kept) > 0)
