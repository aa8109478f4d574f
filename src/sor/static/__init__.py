"""The static model: the Cont-Kukanov splitter, its replay, the baselines and the search."""
