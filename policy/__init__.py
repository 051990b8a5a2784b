"""The K2 market-data policy pack: the design's rules checked on what a preview would deploy."""
