"""Rebuild each venue's book from its orders (Databento MBO), one compiled pass.

Every record becomes one event of its venue carrying the venue's ten best levels a side
as they stand once the record is applied (:data:`sor.data.events.EVENT_DTYPE`). Trades and
fills leave the book alone, as Databento documents for its MBO schema: "all fills will be
accompanied by cancel actions that do update the book", so a trade row carries the book
before the trade (the contract of docs/semantics.md section 1) and the size cut of a fill
arrives on the cancel (or modify) of the same order that follows it. Should a venue's next
record after a fill be about anything else (or none come), the cut is applied to the book
there, so that the book stays right, and written on the fill's own row (``cut``
:data:`sor.data.events.CUT_FILL`), so that the exact queue sees the shares leave.

Venues whose adds carry ``F_TOB`` send their top of book as order records (Databento's
normalization of IEX and NYSE National in DBEQ.BASIC): each such add replaces its side
with one level, and an add at the undefined price empties that side. Their rows are
:data:`sor.data.events.TOP_OF_BOOK`; every other venue's rows are
:data:`sor.data.events.ORDER_LEVEL`, and carry what the exact queue needs: each row's
``seq`` (its record's place in the file), and for a row that moves a resting order
(cancel, fill cut, modify) that order's price and priority stamp before it and the shares
that left its place (``cut``, ``cut_px``, ``cut_prio``, ``cut_size``). An order's priority
stamp is the ``seq`` of the add that placed it, or of the modify that sent it to the back
(one that moves its price or raises its size).

Orders live in an open-addressing table keyed by (venue, order id); each venue side's
levels in an array sorted best first. A record that cannot apply is bad (an unknown
order, a duplicate add, a cut larger than the order, a time before the venue's previous
record, an add without price or size): the pass stops at the first one, or skips and
counts them.
"""

from __future__ import annotations

import numba
import numpy as np

from sor.data.events import (
    CUT_CANCEL,
    CUT_FILL,
    CUT_REQUEUE,
    LEVELS,
    ORDER_LEVEL,
    TOP_OF_BOOK,
)

F_TOB = 64
"""The ``flags`` bit of a top-of-book record (Databento's ``F_TOB``)."""

GOOD = 0
UNKNOWN_ORDER = 1
DUPLICATE_ORDER = 2
CUT_EXCEEDS_ORDER = 3
OUT_OF_ORDER = 4
BAD_ADD = 5
BAD_SIDE = 6
BAD_ACTION = 7
BAD_SIZE = 8
BAD_REASONS = {
    UNKNOWN_ORDER: "unknown_order",
    DUPLICATE_ORDER: "duplicate_order",
    CUT_EXCEEDS_ORDER: "cut_exceeds_order",
    OUT_OF_ORDER: "out_of_time_order",
    BAD_ADD: "bad_add",
    BAD_SIDE: "bad_side",
    BAD_ACTION: "bad_action",
    BAD_SIZE: "bad_size",
}
"""The report's reason for each kind of bad order record."""
BAD_MESSAGES = {
    UNKNOWN_ORDER: "cancels, modifies or fills an order that is not resting at its venue",
    DUPLICATE_ORDER: "adds an order whose id already rests at its venue",
    CUT_EXCEEDS_ORDER: "cancels or fills more than the order has left",
    OUT_OF_ORDER: "has a ts_event before the previous record of its venue",
    BAD_ADD: "adds an order without a price or a size",
    BAD_SIDE: "names no side (B or A) for an order",
    BAD_ACTION: "has an action that is not one of A, C, M, R, T, F, N",
    BAD_SIZE: "has a negative size",
}
"""What a bad record of each kind does, for the one-line error."""

_ADD, _CANCEL, _MODIFY, _CLEAR = ord("A"), ord("C"), ord("M"), ord("R")
_TRADE, _FILL, _NONE_ACTION = ord("T"), ord("F"), ord("N")
_BID, _ASK = ord("B"), ord("A")
_EMPTY, _LIVE, _GONE = 0, 1, 2
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@numba.njit(cache=True, nogil=True)
def _slot(keys, venues, state, key, venue, shift):
    """Return the table slot of (venue, key): its slot when present, else the first free
    one on its probe sequence (never a slot of another key)."""
    mask = len(keys) - 1
    h = (np.uint64(key) ^ (np.uint64(venue) << np.uint64(48))) * _GOLDEN
    i = np.int64(h >> np.uint64(shift))
    free = -1
    while True:
        s = state[i]
        if s == _EMPTY:
            return i if free < 0 else free
        if keys[i] == key and venues[i] == venue:
            return i
        if s == _GONE and free < 0:
            free = i
        i = (i + 1) & mask


@numba.njit(cache=True, nogil=True)
def _find(keys, venues, state, key, venue, shift):
    """Return the slot of the live entry (venue, key), or -1."""
    mask = len(keys) - 1
    h = (np.uint64(key) ^ (np.uint64(venue) << np.uint64(48))) * _GOLDEN
    i = np.int64(h >> np.uint64(shift))
    while True:
        s = state[i]
        if s == _EMPTY:
            return -1
        if s == _LIVE and keys[i] == key and venues[i] == venue:
            return i
        i = (i + 1) & mask


def table_size(entries: int) -> tuple[int, int]:
    """Return a power-of-two capacity for ``entries`` live and gone entries at a load of at
    most a half, and the hash shift that maps 64 bits onto it."""
    bits = max(4, int(2 * max(entries, 1) - 1).bit_length())
    return 1 << bits, 64 - bits


@numba.njit(cache=True, nogil=True)
def _level_change(lv_key, lv_sz, lv_ct, lv_n, row, key, delta, count):
    """Add ``delta`` shares and ``count`` orders at sort key ``key`` of side ``row``
    (levels sorted by key ascending: asks by price, bids by minus price). Return the level's
    position before the change (or where it was inserted), and whether the side must grow."""
    n = lv_n[row]
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) >> 1
        if lv_key[row, mid] < key:
            lo = mid + 1
        else:
            hi = mid
    if lo < n and lv_key[row, lo] == key:
        lv_sz[row, lo] += delta
        lv_ct[row, lo] += count
        if lv_sz[row, lo] <= 0:
            for j in range(lo, n - 1):
                lv_key[row, j] = lv_key[row, j + 1]
                lv_sz[row, j] = lv_sz[row, j + 1]
                lv_ct[row, j] = lv_ct[row, j + 1]
            lv_n[row] = n - 1
        return lo
    if delta <= 0:
        return lo
    for j in range(n, lo, -1):
        lv_key[row, j] = lv_key[row, j - 1]
        lv_sz[row, j] = lv_sz[row, j - 1]
        lv_ct[row, j] = lv_ct[row, j - 1]
    lv_key[row, lo] = key
    lv_sz[row, lo] = delta
    lv_ct[row, lo] = count
    lv_n[row] = n + 1
    return lo


@numba.njit(cache=True, nogil=True)
def _grow(lv_key, lv_sz, lv_ct):
    """Return the level arrays with twice the room per side."""
    rows, cap = lv_key.shape
    key = np.zeros((rows, 2 * cap), np.int64)
    sz = np.zeros((rows, 2 * cap), np.int64)
    ct = np.zeros((rows, 2 * cap), np.int64)
    key[:, :cap] = lv_key
    sz[:, :cap] = lv_sz
    ct[:, :cap] = lv_ct
    return key, sz, ct


@numba.njit(cache=True, nogil=True)
def _sort_key(side, price):
    return price if side == _ASK else -price


@numba.njit(cache=True, nogil=True)
def rebuild(
    ts, venue, publisher, action, side, price, size, order_id, flags, tob, skip, capacity,
    shift, dest, out_ts, out_publisher, out_action, out_side, out_flags, out_price, out_size,
    out_seq, out_source, out_cut, out_cut_px, out_cut_prio, out_cut_size, bid_px, bid_sz,
    ask_px, ask_sz, bid_ct, ask_ct, bad,
):  # fmt: skip
    """Apply the records (file order; ``venue`` an index from 0; prices in nano-dollars,
    0 where undefined) and write the event of each good record ``i`` at row ``dest[i]``.

    ``tob`` marks the top-of-book venues. Writes, per event, the record's fields (its
    ``seq``: the record's index), the side of the order it concerns, its source, what left
    a resting order's place, and the venue's ten best levels a side (``bid_ct``/``ask_ct``, order counts, only when they have rows). ``bad``
    gets each record's code (``GOOD`` or a bad kind). Returns the number of events, and
    the index of the first bad record (-1 when none) when not ``skip`` (the pass stops
    there).
    """
    n = len(ts)
    n_venues = len(tob)
    keys = np.zeros(capacity, np.int64)
    owners = np.zeros(capacity, np.int32)
    state = np.zeros(capacity, np.uint8)
    o_side = np.zeros(capacity, np.uint8)
    o_px = np.zeros(capacity, np.int64)
    o_size = np.zeros(capacity, np.int64)
    o_prio = np.zeros(capacity, np.int64)
    lv_key = np.zeros((2 * n_venues, 64), np.int64)
    lv_sz = np.zeros((2 * n_venues, 64), np.int64)
    lv_ct = np.zeros((2 * n_venues, 64), np.int64)
    lv_n = np.zeros(2 * n_venues, np.int64)
    last_ts = np.full(n_venues, np.iinfo(np.int64).min, np.int64)
    pending_slot = np.full(n_venues, -1, np.int64)  # a fill whose size cut has not come
    pending_size = np.zeros(n_venues, np.int64)
    pending_row = np.zeros(n_venues, np.int64)  # the fill's own event row
    counts = len(bid_ct) > 0
    written = 0
    for i in range(n):
        v = venue[i]
        a = action[i]
        code = 0
        if size[i] < 0:
            code = BAD_SIZE
        elif ts[i] < last_ts[v]:
            code = OUT_OF_ORDER
        elif a not in (_ADD, _CANCEL, _MODIFY, _CLEAR, _TRADE, _FILL, _NONE_ACTION):
            code = BAD_ACTION
        cut = 0
        cut_px = 0
        cut_prio = 0
        cut_size = 0
        the_side = side[i]
        slot = -1
        if code == 0 and not tob[v] and (a in (_CANCEL, _MODIFY, _FILL)):
            slot = _find(keys, owners, state, order_id[i], v, shift)
            if slot < 0:
                code = UNKNOWN_ORDER
            elif a in (_CANCEL, _FILL) and size[i] > o_size[slot]:
                code = CUT_EXCEEDS_ORDER
        elif code == 0 and a == _ADD and not (tob[v] and flags[i] & F_TOB):
            if side[i] not in (_BID, _ASK):
                code = BAD_SIDE
            elif price[i] <= 0 or size[i] <= 0:
                code = BAD_ADD
            elif _find(keys, owners, state, order_id[i], v, shift) >= 0:
                code = DUPLICATE_ORDER
        elif code == 0 and a == _ADD and side[i] not in (_BID, _ASK):
            code = BAD_SIDE
        bad[i] = code
        if code != 0:
            if skip:
                continue
            return written, i
        last_ts[v] = ts[i]
        # a pending fill's cut comes with the next record about the same order; anything
        # else applies it first
        p = pending_slot[v]
        fill_cut = False
        if p >= 0:
            if slot == p and (a in (_CANCEL, _MODIFY)):
                fill_cut = True
            else:
                # no record carries this fill's cut: its own row does, so that the exact
                # queue sees the shares leave
                _orphan_cut(pending_row[v], p, pending_size[v], o_px, o_size, o_prio, out_cut,
                            out_cut_px, out_cut_prio, out_cut_size)  # fmt: skip
                _apply_cut(p, pending_size[v], o_side, o_px, o_size, state, lv_key, lv_sz,
                           lv_ct, lv_n, v)  # fmt: skip
            pending_slot[v] = -1
        if a == _ADD and tob[v] and flags[i] & F_TOB:
            row = 2 * v + (0 if side[i] == _BID else 1)
            lv_n[row] = 0
            if price[i] > 0 and size[i] > 0:
                lv_key[row, 0] = _sort_key(side[i], price[i])
                lv_sz[row, 0] = size[i]
                lv_ct[row, 0] = 1
                lv_n[row] = 1
        elif a == _ADD:
            s = _slot(keys, owners, state, order_id[i], v, shift)
            keys[s] = order_id[i]
            owners[s] = v
            state[s] = _LIVE
            o_side[s] = side[i]
            o_px[s] = price[i]
            o_size[s] = size[i]
            o_prio[s] = i
            row = 2 * v + (0 if side[i] == _BID else 1)
            if lv_n[row] + 1 >= lv_key.shape[1]:
                lv_key, lv_sz, lv_ct = _grow(lv_key, lv_sz, lv_ct)
            _level_change(lv_key, lv_sz, lv_ct, lv_n, row, _sort_key(side[i], price[i]),
                          size[i], 1)  # fmt: skip
        elif a == _CANCEL and slot >= 0:
            the_side = o_side[slot]
            cut = CUT_FILL if fill_cut else CUT_CANCEL
            cut_px = o_px[slot]
            cut_prio = o_prio[slot]
            cut_size = size[i]
            _apply_cut(slot, size[i], o_side, o_px, o_size, state, lv_key, lv_sz, lv_ct, lv_n, v)
        elif a == _MODIFY and slot >= 0:
            the_side = o_side[slot]
            old_px = o_px[slot]
            old_size = o_size[slot]
            cut_px = old_px
            cut_prio = o_prio[slot]
            row = 2 * v + (0 if the_side == _BID else 1)
            if size[i] <= 0 or price[i] <= 0:
                # nothing left: the order is gone
                cut = CUT_FILL if fill_cut else CUT_CANCEL
                cut_size = old_size
                _apply_cut(slot, old_size, o_side, o_px, o_size, state, lv_key, lv_sz, lv_ct,
                           lv_n, v)  # fmt: skip
            elif price[i] != old_px or size[i] > old_size:
                cut = CUT_REQUEUE
                cut_size = old_size
                _level_change(lv_key, lv_sz, lv_ct, lv_n, row, _sort_key(the_side, old_px),
                              -old_size, -1)  # fmt: skip
                if lv_n[row] + 1 >= lv_key.shape[1]:
                    lv_key, lv_sz, lv_ct = _grow(lv_key, lv_sz, lv_ct)
                _level_change(lv_key, lv_sz, lv_ct, lv_n, row, _sort_key(the_side, price[i]),
                              size[i], 1)  # fmt: skip
                o_px[slot] = price[i]
                o_size[slot] = size[i]
                o_prio[slot] = i
            elif size[i] < old_size:
                cut = CUT_FILL if fill_cut else CUT_CANCEL
                cut_size = old_size - size[i]
                _level_change(lv_key, lv_sz, lv_ct, lv_n, row, _sort_key(the_side, old_px),
                              -cut_size, 0)  # fmt: skip
                o_size[slot] = size[i]
        elif a == _FILL and slot >= 0:
            the_side = o_side[slot]
            pending_slot[v] = slot
            pending_size[v] = size[i]
            pending_row[v] = dest[i]
        elif a == _CLEAR:
            for s in range(capacity):
                if state[s] == _LIVE and owners[s] == v:
                    state[s] = _GONE
            lv_n[2 * v] = 0
            lv_n[2 * v + 1] = 0
        out = dest[i]
        out_ts[out] = ts[i]
        out_publisher[out] = publisher[i]
        out_action[out] = a
        out_flags[out] = flags[i]
        out_price[out] = price[i]
        out_size[out] = size[i]
        out_seq[out] = i
        out_side[out] = the_side
        out_source[out] = TOP_OF_BOOK if tob[v] else ORDER_LEVEL
        out_cut[out] = cut
        out_cut_px[out] = cut_px
        out_cut_prio[out] = cut_prio
        out_cut_size[out] = cut_size
        _write_side(lv_key, lv_sz, lv_ct, lv_n, 2 * v, -1, bid_px, bid_sz, bid_ct, out, counts)
        _write_side(lv_key, lv_sz, lv_ct, lv_n, 2 * v + 1, 1, ask_px, ask_sz, ask_ct, out,
                    counts)  # fmt: skip
        written += 1
    for v in range(n_venues):  # a venue's last fill, with no record after it
        if pending_slot[v] >= 0:
            _orphan_cut(pending_row[v], pending_slot[v], pending_size[v], o_px, o_size, o_prio,
                        out_cut, out_cut_px, out_cut_prio, out_cut_size)  # fmt: skip
    return written, -1


@numba.njit(cache=True, nogil=True)
def _orphan_cut(row, slot, amount, o_px, o_size, o_prio, out_cut, out_cut_px, out_cut_prio,
                out_cut_size):  # fmt: skip
    """Write the cut of the fill of the order in ``slot`` on the fill's own event ``row``."""
    out_cut[row] = CUT_FILL
    out_cut_px[row] = o_px[slot]
    out_cut_prio[row] = o_prio[slot]
    out_cut_size[row] = min(amount, o_size[slot])


@numba.njit(cache=True, nogil=True)
def _apply_cut(slot, amount, o_side, o_px, o_size, state, lv_key, lv_sz, lv_ct, lv_n, v):
    """Take ``amount`` shares off the order in ``slot``; remove it when none are left."""
    row = 2 * v + (0 if o_side[slot] == _BID else 1)
    left = o_size[slot] - amount
    gone = 1 if left <= 0 else 0
    _level_change(lv_key, lv_sz, lv_ct, lv_n, row, _sort_key(o_side[slot], o_px[slot]),
                  -min(amount, o_size[slot]), -gone)  # fmt: skip
    o_size[slot] = max(left, 0)
    if gone:
        state[slot] = _GONE


@numba.njit(cache=True, nogil=True)
def _write_side(lv_key, lv_sz, lv_ct, lv_n, row, sign, px, sz, ct, out, counts):
    """Write side ``row``'s ten best levels into row ``out`` (prices: ``sign`` times the
    sort key; absent levels 0)."""
    m = min(lv_n[row], px.shape[1])
    for k in range(m):
        px[out, k] = sign * lv_key[row, k]
        sz[out, k] = lv_sz[row, k]
        if counts:
            ct[out, k] = lv_ct[row, k]
    for k in range(m, px.shape[1]):
        px[out, k] = 0
        sz[out, k] = 0
        if counts:
            ct[out, k] = 0


def levels_shape(records: int, with_counts: bool) -> tuple[int, int]:
    """The shape of the order-count arrays: none unless asked for."""
    return (records if with_counts else 0, LEVELS)
