"""The fast static allocator equals the brute-force enumeration, split and cost."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brute_force import brute_force_allocate
from sor.core.domain import VenueQuote
from sor.core.errors import ConfigError
from sor.static.allocator import NO_SPLIT, allocate, static_split

FEES = (0.0, 0.001, 0.0025, 0.003)


@st.composite
def venue_sets(draw: st.DrawFn) -> tuple[int, list[VenueQuote], tuple[float, float, float]]:
    count = draw(st.integers(1, 6))
    # few distinct price levels, so equal prices (ties) across venues are common
    base = draw(st.integers(900, 30_000))
    venues = [
        VenueQuote(
            ask=(base + draw(st.integers(0, 3))) / 100,
            ask_size=draw(
                st.one_of(
                    st.just(0),
                    st.integers(1, 99),
                    st.integers(1, 12).map(lambda lots: lots * 100),
                    st.integers(100, 1200),
                )
            ),
            fee=draw(st.sampled_from(FEES)),
            rebate=draw(st.sampled_from((0.0, 0.002))),
        )
        for _ in range(count)
    ]
    order_size = draw(st.integers(1, 10)) * 100
    penalties = tuple(draw(st.floats(0, 5, allow_nan=False)) for _ in range(3))
    return order_size, venues, penalties  # type: ignore[return-value]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(venue_sets())
def test_fast_allocator_equals_brute_force(case) -> None:  # type: ignore[no-untyped-def]
    order_size, venues, (lambda_over, lambda_under, theta_queue) = case
    fast = allocate(order_size, venues, lambda_over, lambda_under, theta_queue)
    slow = brute_force_allocate(order_size, venues, lambda_over, lambda_under, theta_queue)
    assert fast.split == slow.split
    assert fast.cost == slow.cost


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(venue_sets(), st.sampled_from((None, 0.001, 0.002, 0.003, 0.004)))
def test_fast_allocator_equals_brute_force_on_sells(case, tiny) -> None:  # type: ignore[no-untyped-def]
    # a sell reads each quote as a bid and a share costs fee - bid; a tiny bid below the fee
    # makes that cost positive on one venue while negative on the others
    order_size, venues, (lambda_over, lambda_under, theta_queue) = case
    if tiny is not None:
        venues = [replace(venues[0], ask=tiny), *venues[1:]]
    penalties = (lambda_over, lambda_under, theta_queue)
    fast = allocate(order_size, venues, *penalties, sell=True)
    slow = brute_force_allocate(order_size, venues, *penalties, sell=True)
    assert fast.split == slow.split
    assert fast.cost == slow.cost


def test_a_sell_takes_the_highest_bid_net_of_fees() -> None:
    venues = [
        VenueQuote(10.00, 300, fee=0.003),  # nets 9.997
        VenueQuote(10.01, 200, fee=0.003),  # nets 10.007: the best
        VenueQuote(10.01, 500, fee=0.0135),  # nets 9.9965: dearest fee, worst net
    ]
    assert allocate(400, venues, sell=True).split == (200, 200, 0)
    assert allocate(400, venues).split == (300, 100, 0)  # the buy takes the cheapest


def test_sell_ties_go_to_the_smallest_split_within_the_tolerance() -> None:
    # equal nets on venues 0 and 1: the lexicographically smallest split puts the most on
    # the later venue
    venues = [VenueQuote(10.00, 500, fee=0.001), VenueQuote(10.00, 500, fee=0.001)]
    assert allocate(600, venues, sell=True).split == (100, 500)
    # a gain of 1 nano-dollar in 6,000 $ of proceeds is within the 1e-9 relative tolerance
    venues = [VenueQuote(10.00, 500, fee=0.001), VenueQuote(10.000000001, 500, fee=0.001)]
    assert allocate(600, venues, sell=True).split == (100, 500)


@settings(max_examples=100, deadline=None)
@given(venue_sets(), st.tuples(*[st.floats(0, 100, allow_nan=False)] * 3))
def test_penalties_never_change_the_split(case, other) -> None:  # type: ignore[no-untyped-def]
    order_size, venues, penalties = case
    assert (
        allocate(order_size, venues, *penalties).split == allocate(order_size, venues, *other).split
    )


def test_ties_go_to_the_lexicographically_smallest_split() -> None:
    same = [VenueQuote(10.00, 300), VenueQuote(10.00, 300), VenueQuote(10.00, 300)]
    result = allocate(500, same)
    assert result.split == (0, 200, 300)
    assert result.split == brute_force_allocate(500, same).split


def test_hand_worked_split() -> None:
    venues = [VenueQuote(10.01, 500), VenueQuote(10.00, 250), VenueQuote(10.02, 1000)]
    # 200 at the cheapest (250 caps it to 200), then 500 at 10.01, then 300 at 10.02
    result = allocate(1000, venues)
    assert result.split == (500, 200, 300)
    assert result.cost == pytest.approx(500 * 10.013 + 200 * 10.003 + 300 * 10.023)


def test_no_candidate_means_nothing_is_sent() -> None:
    assert allocate(1000, [VenueQuote(10.0, 300), VenueQuote(10.0, 650)]).split == ()
    assert allocate(1000, [VenueQuote(10.0, 300), VenueQuote(10.0, 650)]).cost is None
    assert allocate(100, []).split == ()


@pytest.mark.parametrize("size", [0, -100, 150, 99])
def test_bad_order_sizes_are_rejected(size: int) -> None:
    with pytest.raises(ConfigError, match="positive multiple of 100"):
        allocate(size, [VenueQuote(10.0, 1000)])


def test_kernel_agrees_with_the_wrapper() -> None:
    rng = np.random.default_rng(1)
    for _ in range(200):
        n = int(rng.integers(1, 7))
        ask = (rng.integers(22_280, 22_284, n) * 10_000_000).astype(np.int64)
        size = rng.integers(0, 1500, n).astype(np.int64)
        fee = np.full(n, 3_000_000, dtype=np.int64)
        out = np.zeros(n, dtype=np.int64)
        status = static_split(1000, ask, size, fee, out)
        venues = [VenueQuote(a / 1e9, int(s)) for a, s in zip(ask, size, strict=True)]
        expected = allocate(1000, venues)
        if expected.split:
            assert status == 0
            assert tuple(out) == expected.split
        else:
            assert status == NO_SPLIT and not out.any()
