"""Per-exchange monitoring (pure: no Pulumi): the design's metrics, alerts and dashboard.

- `sample`: one batch of admin calls -> a Snapshot of the stack's topics and consumer groups;
- `exporter`: that snapshot as Prometheus metrics (kafka_exporter's names plus k2_*), served over HTTP;
- `rules`: the design's alerts as a Prometheus rule file, thresholds from topics.yaml's `monitoring:`;
- `dashboard`: the design's layout as a Grafana dashboard; `watch`: the same layout in a terminal.
"""
