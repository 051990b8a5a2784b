"""K2 market-data Kafka topology as code."""
