"""Market state, liquidity consumption and the replay loop."""
