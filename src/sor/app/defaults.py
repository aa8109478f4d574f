"""The defaults of the run settings, in one place.

No heavy imports here: every command's help shows these values.
"""

from __future__ import annotations

from sor.core.domain import NANOS_PER_SECOND

DEFAULT_SEED = 7
"""Seed of the generated market and of the sampled latencies."""
DEFAULT_ORDER_SIZE = 5000
"""Shares of the parent order when neither ``--order-size`` nor the configuration sets it."""
DEFAULT_LATENCY_US = 100.0
"""Order-entry latency of model ck, microseconds."""
DEFAULT_LATENCY_SIGMA = 0.0
"""Log-sd of the sampled latencies of model ck: 0 keeps the latency constant."""
DEFAULT_QUEUE_MODEL = "conservative"
"""The queue simulator's treatment of cancellations in model ck: the one that fills as the
exact queue does on real order-level data (``sor fills --compare``, README)."""
DEFAULT_CROSSING_FILL = "displayed"
"""What asks crossing a resting order's price fill, in model ck and ``sor fills``."""
DEFAULT_TRADE_FILL = "displayed"
"""What sell trades at or below a resting buy's price do to it, in model ck and ``sor fills``."""
DEFAULT_FALLBACK_QUEUE_MODEL = "conservative"
"""The queue model of the venues that ``--queue-model fifo`` cannot see order by order."""
DEFAULT_BOOTSTRAP = "localhost:9092"
"""Broker of ``sor produce`` and ``sor replays`` when no flag, variable or file names one."""
DEFAULT_MAX_TS_DISTANCE_H = 24.0
"""Hours a ts_event may lie from the input's median before its row is bad."""
NANOS_PER_HOUR = 3600 * NANOS_PER_SECOND
