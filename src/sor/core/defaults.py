"""Every default of a run, written once.

This module imports nothing of the project (and nothing heavy): the command line's help,
the configuration file, the Python API and the models all take their defaults from here,
so they cannot disagree. A module that needs a default in another form (a grid, ns)
builds it from these values.
"""

from __future__ import annotations

# the parent order and its data ------------------------------------------------------------

DEFAULT_ORDER_SIZE = 5000
"""Shares of the parent order when neither ``--order-size`` nor the configuration sets it."""
DEFAULT_SIDE = "buy"
"""The parent order's side: ``buy`` takes the asks, ``sell`` the bids."""
DEFAULT_FEE = 0.003
"""Taker fee, $/share, of a venue the configuration does not price."""
DEFAULT_REBATE = 0.002
"""Maker rebate, $/share, of a venue the configuration does not price."""
DEFAULT_SEED = 7
"""Seed of the generated market, of the sampled latencies and of the bootstrap."""
DEFAULT_START = "2024-08-01T13:36:32Z"
"""Start of the generated market (the first ts_event of the real l1_day.csv, to the second)."""
DEFAULT_DURATION_S = 9 * 60
"""Length of the generated market, seconds."""
DEFAULT_GENERATE_RATE = 111.0
"""The generated market's rows per second per venue (``sor generate --rate``)."""
DEFAULT_PRICE_MOVES = 0.35
"""The generated market's moves of the efficient price per second (``--price-moves``)."""
DEFAULT_MAX_TS_DISTANCE_H = 24.0
"""Hours a ts_event may lie from the input's median before its row is bad."""
DEFAULT_ARRIVAL_SIZE_MEDIAN = DEFAULT_ORDER_SIZE
"""Median shares of an order ``--arrivals`` draws."""
DEFAULT_ARRIVAL_SIZE_SIGMA = 0.75
"""Log-sd of the drawn orders' sizes: 95 % of them within 0.23 to 4.4 times the median
(about 1,000 to 20,000 shares around 5,000)."""
DEFAULT_ARRIVAL_SIDES = "both"
"""The sides of the drawn orders: ``buy``, ``sell`` or ``both`` (each side with even odds)."""

# where a command writes ---------------------------------------------------------------------

DEFAULT_REPORT = "output.json"
"""The report of ``sor backtest`` (``--json-out``)."""
DEFAULT_FIGURE = "results.png"
"""The figure of ``sor backtest`` (``--plot``)."""
DEFAULT_EVALUATION_REPORT = "evaluation.json"
"""The report of ``sor evaluate``."""
DEFAULT_EVALUATION_FIGURE = "evaluation.png"
"""The figure of ``sor evaluate``."""
DEFAULT_FILLS_FIGURE = "fills.png"
"""The figure of ``sor fills``."""
DEFAULT_STATS_FIGURE = "stats.png"
"""The figure of ``sor stats``."""
DEFAULT_COMPARE_FIGURE = "compare.png"
"""The figure of ``sor stats --compare``."""

# the static model's search ----------------------------------------------------------------

DEFAULT_LAMBDA_OVER = (0.1, 0.2, 0.4, 0.6, 0.8)
DEFAULT_LAMBDA_UNDER = (0.1, 0.2, 0.4, 0.6, 0.8)
DEFAULT_THETA_QUEUE = (0.1, 0.2, 0.4, 0.6, 0.8)

# model ck ---------------------------------------------------------------------------------

DEFAULT_CK_LAMBDA_OVER = (0.05,)
DEFAULT_CK_LAMBDA_UNDER = (0.01, 0.05, 0.2)
DEFAULT_CK_THETA_QUEUE = (0.0005, 0.005, 0.05)
"""Model ck's own search grid, $/share (its penalties are per share of the decision)."""
DEFAULT_HORIZONS_S = (0.2, 0.5, 2.0)
"""Decision horizons T of model ck, seconds."""
DEFAULT_LATENCY_US = 100.0
"""Order-entry latency of model ck and of ``sor fills``, microseconds: the study's orders
rest as late as the router's, so that what it measures is what the router meets."""
DEFAULT_LATENCY_SIGMA = 0.0
"""Log-sd of the sampled latencies of model ck: 0 keeps the latency constant."""
DEFAULT_QUEUE_MODEL = "conservative"
"""The queue simulator's treatment of cancellations in model ck and ``sor fills``: the one that fills as the
exact queue does on real order-level data (``sor fills --compare``, README)."""
DEFAULT_CROSSING_FILL = "displayed"
"""What asks crossing a resting order's price fill, in model ck and ``sor fills``."""
DEFAULT_TRADE_FILL = "displayed"
"""What sell trades at or below a resting buy's price do to it, in model ck and ``sor fills``."""
DEFAULT_FALLBACK_QUEUE_MODEL = "conservative"
"""The queue model of the venues that ``--queue-model fifo`` cannot see order by order."""

# the stream -------------------------------------------------------------------------------

DEFAULT_BOOTSTRAP = "localhost:9092"
"""Broker of ``sor produce`` and ``sor replays`` when no flag, variable or file names one."""
DEFAULT_TOPIC = "mock_l1_stream"
"""Kafka topic when no flag, variable or file names one."""
DEFAULT_GAP_TIMEOUT_S = 30.0
"""Seconds a consumer waits for a replay's next message before it calls the replay lost."""

# sor evaluate -----------------------------------------------------------------------------

DEFAULT_TRAIN_DAYS = 5
"""Days each walk-forward choice is trained on."""
DEFAULT_RESAMPLES = 10_000
"""Bootstrap resamples of each interval."""
DEFAULT_WORKER_TIMEOUT_S = 60.0
"""Seconds ``sor evaluate`` waits for a Dask worker (a first one, or one again)."""
DEFAULT_READ_TIMEOUT_S = 30.0
"""Seconds a scheduler or an HTTP(S) server may take to answer."""
DEFAULT_MAX_DOWNLOAD = "20GB"
"""Largest copy of a day given as a URL (``--max-download``)."""
DEFAULT_MAX_DOWNLOAD_BYTES = 20 * 10**9
""":data:`DEFAULT_MAX_DOWNLOAD` in bytes."""

# sor fills --------------------------------------------------------------------------------

DEFAULT_FILLS_EVERY_S = 5.0
"""Seconds between the study's placements (one order per venue each time)."""
DEFAULT_FILLS_SIZES = (200,)
"""Shares of each studied order."""
DEFAULT_FILLS_HORIZONS_S = (0.5, 2.0, 10.0)
"""Seconds after which a studied order is cancelled."""

# sor stats --------------------------------------------------------------------------------

DEFAULT_STATS_LAGS = 10
"""Trade-sign autocorrelation lags 1..N."""
DEFAULT_STATS_INTERVALS_S = (1.0, 10.0, 60.0)
"""Interval lengths of the order-flow-imbalance regression, seconds."""
DEFAULT_STATS_HORIZONS_S = (1.0, 10.0, 60.0)
"""Markout horizons of the statistics, seconds."""
DEFAULT_TICK = 0.01
"""The price grid spreads are counted in, $."""

# sor place --------------------------------------------------------------------------------

DEFAULT_SAMPLES = 1000
"""Outflow samples of a ``sor place`` problem that does not say."""
DEFAULT_PAPER_SAMPLES = 10_000
"""Outflow samples per (order size, venue count) of ``sor place --paper-table``."""
