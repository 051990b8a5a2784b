"""bench/results/clients.json and the table in bench/RESULTS.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


BEGIN, END = "<!-- clients_bench: begin -->", "<!-- clients_bench: end -->"


def write(results: dict[str, Any]) -> tuple[Path, Path]:
    json_path = HERE / "results" / "clients.json"
    return json_path, save(results, json_path, markdown(results))


def save(results: dict[str, Any], json_path: Path, section: str, begin: str = BEGIN, end: str = END) -> Path:
    """A benchmark's raw figures as JSON, and its section of bench/RESULTS.md (the other sections kept); the
    Markdown file's path."""
    json_path.parent.mkdir(exist_ok=True)
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    md_path = HERE / "RESULTS.md"
    md_path.write_text(merge(md_path.read_text() if md_path.exists() else "", section, begin, end))
    return md_path


def merge(existing: str, section: str, begin: str = BEGIN, end: str = END) -> str:
    """`existing` with a benchmark's section (between its markers) replaced or added, other sections untouched."""
    block = f"{begin}\n{section}{end}\n"
    if begin in existing and end in existing:
        head, rest = existing.split(begin, 1)
        return head + block + rest.split(end, 1)[1].lstrip("\n")
    return (existing.rstrip() + "\n\n" if existing.strip() else "# Benchmark results\n\n") + block


def markdown(r: dict[str, Any]) -> str:
    t, s, env = r["throughput"], r["selective"], r["environment"]
    rate = t["median_per_second"]
    lines = [
        "## App helpers (`bench/clients_bench.py`)",
        "",
        f"`python bench/clients_bench.py` on {env['date']}: {env['cpus']} cores, one Kafka {env['kafka']} broker and "
        f"Apicurio on 127.0.0.1, librdkafka {env['librdkafka']}; load average {env['load_before']} before, "
        f"{env['load_after']} after (the machine is shared with other work; latency varies between runs). Raw figures: "
        "[results/clients.json](results/clients.json).",
        "",
        f"### Avro trades per second (trades profile, {t['records_per_run']:,} records, median of {t['rounds']} "
        "interleaved rounds)",
        "",
        "| Producer | Records/s | vs ceiling |",
        "| --- | ---: | ---: |",
    ]
    names = {
        "ceiling_pre_serialized": "confluent-kafka `Producer`, records pre-serialized (ceiling)",
        "helpers": "**helpers** (`MarketDataProducer`: checks, Avro, key, delivery accounting)",
        "helpers_in_flight_1": "helpers, trades profile with the design's max.in.flight 1",
        "confluent_avro_serializer": "confluent-kafka `SerializingProducer` + `AvroSerializer` (shared subjects)",
        "encode_only": "the helpers' encoding alone (checks, Avro), no Kafka: the bound for this producer",
    }
    ceiling = rate["ceiling_pre_serialized"]
    for key, label in names.items():
        lines.append(f"| {label} | {rate[key]:,} | {rate[key] / ceiling:.0%} |")
    encode, stock = rate["encode_only"], rate["confluent_avro_serializer"]
    lines += [
        "",
        f"Helpers vs ceiling, per round: {', '.join(f'{x:.0%}' for x in t['helpers_vs_ceiling_per_round'])} "
        f"(goal: 70% or better). Mean Avro value: {t['record_bytes_avro']} bytes. The helpers' encoding alone "
        f"(generated per schema: bench/avro_codec.py) reaches {encode / ceiling:.0%} of the ceiling; the helpers "
        f"run at {rate['helpers'] / encode:.0%} of that bound and {rate['helpers'] / stock:.1f}× confluent-kafka's "
        "own Avro path.",
        "",
        "### Produce → consume latency (ASX and Binance at once; the asked rate is 10,000 records/s per exchange)",
        "",
        "| Profile | Sent/s (ASX + Binance) | Counted | p50 ms | p99 ms | p99.9 ms | max ms | CPU busy: machine "
        "/ broker / clients |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for run in r["latency"]:
        ms, use = run["latency_ms"], run["cpu"]
        sent = " + ".join(f"{p['per_second']:,}" for p in run["producers"])
        variant = "".join(f", {k} {v}" for k, v in run["producer_config"].items())
        lines.append(f"| {run['profile']}{variant} | {sent} | {run['counted_after_warm_up']:,} | {ms['p50']} | "
                     f"{ms['p99']} | {ms['p99_9']} | {ms['max']} | {use['machine_busy_percent']:.0f}% of 2 cores / "
                     f"{use['broker_percent_of_one_core']:.0f}% / {use['clients_percent_of_one_core']:.0f}% of one "
                     "core |")
    e, f = s["exchange_level"], s["flat_topic_filtered"]
    mix = ", ".join(f"{k.upper()} {v:.0%}" for k, v in s["mix"].items())
    lines += [
        "",
        "Design: p99 under 100 ms; aim here: under 10 ms. " + _latency_note(r["latency"]),
        "",
        f"### Selective consumption: only ASX trades ({s['trades_total']:,} trades; mix {mix})",
        "",
        "| Layout | Topics read | Bytes fetched | Records decoded | CPU s |",
        "| --- | --- | ---: | ---: | ---: |",
        f"| exchange-level | `{', '.join(e['topics'])}` | {e['bytes_fetched']:,} | {e['records_decoded']:,} | "
        f"{e['cpu_seconds']} |",
        f"| one flat topic, filtered | `{', '.join(f['topics'])}` ({s['flat_topic_partitions']} partitions) | "
        f"{f['bytes_fetched']:,} | {f['records_decoded']:,} | {f['cpu_seconds']} |",
        f"| **flat ÷ exchange-level** | | **{s['bytes_ratio']}×** | {s['records_decoded_ratio']}× | "
        f"{s['cpu_ratio']}× |",
        "",
        f"The design claims a {s['design_claim']} reduction; with ASX at {s['mix']['asx']:.0%} of the trades the "
        f"ideal is {1 / s['mix']['asx']:.0f}×.",
        "",
    ]
    return "\n".join(lines)


def _latency_note(runs: list[dict[str, Any]]) -> str:
    """What the rows say, from the rows: saturation at the asked rate, and the variants beside it."""
    asked = [x for x in runs if max(x["target_per_second"].values()) == 10_000 and not x["producer_config"]]
    busy = min(x["cpu"]["machine_busy_percent"] for x in asked)
    note = (f"At the asked rate the two cores are at least {busy:.0f}% busy: linger 0 on 70 partitions makes "
            "batches of about one record, whose handling plus the consumer's one-byte fetches take the broker "
            "about a core, and the three client processes most of the other; queueing then sets the latency.")
    quotes = next((x for x in asked if x["profile"] == "quotes"), None)
    lingered = next((x for x in runs if x["producer_config"]), None)
    slower = next((x for x in runs if max(x["target_per_second"].values()) < 10_000), None)
    if quotes and lingered:
        note += (f" With a 5 ms linger the quotes median goes from {quotes['latency_ms']['p50']} to "
                 f"{lingered['latency_ms']['p50']} ms (p99 {quotes['latency_ms']['p99']} to "
                 f"{lingered['latency_ms']['p99']} ms).")
    if slower:
        note += (f" At {max(slower['target_per_second'].values()):,} records/s per exchange the path itself shows: "
                 f"p50 {slower['latency_ms']['p50']} ms, p99 {slower['latency_ms']['p99']} ms.")
    return note
