"""Throughput, latency and memory of the matching service, topic to linked entity.

Phases, each timed:

1. generate a synthetic data set of at least ``--records`` partner records;
2. push it through the partner path (``riec partner push`` logic: normalise, pseudonymise,
   produce with acks=all), in parallel processes, onto a local Kafka-protocol broker;
3. **bulk**: start the real matching service (``riec match run --until-caught-up``, a
   subprocess) and time it until every record is linked; the sustained rate is taken
   between the first and the last landed record (group join excluded), the peak resident
   memory of the service process is sampled throughout;
4. **steady**: with the service running, produce new records at ``--steady-rate`` per
   second for ``--steady-seconds``; the latency of a record is from its ``produced_at``
   (set when it is sent) to the commit of the batch that linked it, read from the
   service's ``riec_matching_link_latency_seconds`` histogram, and per record from the database
   (``received_at``, stamped inside that batch's transaction).

Run from the repository root::

    .venv/bin/python benchmarks/throughput.py --records 1000000
    .venv/bin/python benchmarks/throughput.py --records 100000 --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Results go to ``benchmarks/results/throughput.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from harness import fresh_database
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from sqlalchemy import create_engine, func, select

from core.settings import KafkaSettings, RiecSettings
from partner.csv_source import read_rows
from partner.errors import InvalidValue
from partner.pseudonymise import Pseudonymiser
from partner.push import EnvelopeBuilder, PushOptions
from riec.broker import LocalBroker, free_port
from riec.pipeline import PartnerFile, create_topics, push_files
from storage import Record, connect
from synthetic.generator import generate_dataset

RESULTS = Path(__file__).parent / "results" / "throughput.json"
RECORDS_PER_SUBJECT = 1.46  # measured ratio of the generator's records to subjects
GOALS = {"records_per_second": 5000, "p95_seconds": 1.0, "peak_rss_gib": 2.0}


def _push_worker(args: tuple[dict[str, Any], list[dict[str, Any]], str]) -> tuple[int, int]:
    settings_json, files, secret_hex = args
    settings = KafkaSettings(**settings_json)
    pseudonymiser = Pseudonymiser(bytes.fromhex(secret_hex), "k1")
    reports = push_files(
        settings,
        [
            PartnerFile(f["partner"], f["partner_type"], f["entity_type"], Path(f["path"]))
            for f in files
        ],
        pseudonymiser,
    )
    return sum(r.sent for r in reports), sum(r.rejected for r in reports)


def push_parallel(settings: RiecSettings, files: list[Any], secret_hex: str, workers: int) -> int:
    """Push the files from ``workers`` processes (the partner side is CPU-bound)."""
    shares: list[list[dict[str, Any]]] = [[] for _ in range(workers)]
    for i, f in enumerate(sorted(files, key=lambda f: -f.rows)):
        shares[i % workers].append(
            {
                "partner": f.partner,
                "partner_type": f.partner_type,
                "entity_type": f.entity_type,
                "path": str(f.path),
            }
        )
    settings_json = settings.connection()
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        results = pool.map(_push_worker, [(settings_json, s, secret_hex) for s in shares if s])
    return sum(sent for sent, _ in results)


def service_env(settings: RiecSettings) -> dict[str, str]:
    return {**os.environ, **settings.environment()}


class RssSampler(threading.Thread):
    """Peak resident memory and CPU time of a service process (under py-spy: its child)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0
        self.cpu: dict[int, float] = {}
        self.running = True

    def _services(self) -> list[psutil.Process]:
        found = [self.process, *self.process.children(recursive=True)]
        return [p for p in found if "py-spy" not in p.name()]

    def run(self) -> None:
        while self.running:
            try:
                for process in self._services():
                    self.peak = max(self.peak, process.memory_info().rss)
                    times = process.cpu_times()
                    self.cpu[process.pid] = times.user + times.system
            except psutil.Error:
                if not self.process.is_running():
                    return
            time.sleep(0.2)

    @property
    def cpu_seconds(self) -> float:
        return sum(self.cpu.values())


def riec_command() -> list[str]:
    return [str(Path(sys.executable).with_name("riec"))]


def landed_window(url: str) -> tuple[int, float]:
    engine = create_engine(url)
    with engine.connect() as conn:
        count, first, last = conn.execute(
            select(func.count(), func.min(Record.received_at), func.max(Record.received_at))
        ).one()
    engine.dispose()
    if not count:
        return 0, 0.0
    first = first if isinstance(first, datetime) else datetime.fromisoformat(str(first))
    last = last if isinstance(last, datetime) else datetime.fromisoformat(str(last))
    return int(count), (last - first).total_seconds()


def histogram_quantiles(metrics_text: str, name: str) -> dict[str, float]:
    """p50/p95 from a Prometheus histogram, interpolated within buckets."""
    buckets: list[tuple[float, float]] = []
    for line in metrics_text.splitlines():
        if line.startswith(f"{name}_bucket"):
            le = line.split('le="')[1].split('"')[0]
            buckets.append((math.inf if le == "+Inf" else float(le), float(line.split()[-1])))
    buckets.sort()
    if not buckets or buckets[-1][1] == 0:
        return {}
    total = buckets[-1][1]
    out: dict[str, float] = {}
    for label, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        target, previous_le, previous_count = q * total, 0.0, 0.0
        for le, count in buckets:
            if count >= target:
                if math.isinf(le):
                    out[label] = previous_le
                else:
                    share = (target - previous_count) / max(count - previous_count, 1e-9)
                    out[label] = previous_le + (le - previous_le) * share
                break
            previous_le, previous_count = le, count
    out["count"] = total
    return out


def dump_topics(settings: RiecSettings, partners: list[str], directory: Path) -> None:
    """Write every message of the partners' topics to ``directory``, one JSON line each."""
    directory.mkdir(parents=True, exist_ok=True)
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, fetch_max_wait_ms=100)
    try:
        for partner in partners:
            topic = settings.partner_topic(partner)
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
            consumer.assign(partitions)
            consumer.seek_to_beginning()
            pending = set(partitions)
            with (directory / f"{partner}.jsonl").open("w", encoding="utf-8") as out:
                while pending:
                    for tp, messages in consumer.poll(timeout_ms=500, max_records=5000).items():
                        for m in messages:
                            line = {"p": tp.partition, "k": m.key.decode(), "v": m.value.decode()}
                            out.write(json.dumps(line) + "\n")
                    for tp in list(pending):
                        highwater = consumer.highwater(tp)
                        if highwater is not None and consumer.position(tp) >= highwater:
                            pending.discard(tp)
    finally:
        consumer.close()


def restore_topics(settings: RiecSettings, directory: Path) -> int:
    """Produce the messages :func:`dump_topics` wrote, each to its partition, in order."""
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        linger_ms=50,
        batch_size=1024 * 1024,
        max_request_size=8 * 1024 * 1024,
    )
    sent = 0
    for path in sorted(directory.glob("*.jsonl")):
        topic = settings.partner_topic(path.stem)
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                m = json.loads(line)
                producer.send(topic, key=m["k"].encode(), value=m["v"].encode(), partition=m["p"])
                sent += 1
    producer.flush()
    producer.close()
    return sent


def steady_envelopes(work: Path, count: int, seed: int, secret_hex: str) -> list[dict[str, Any]]:
    """Fresh envelopes (their own record ids) for the steady-load phase."""
    manifest = generate_dataset(work / "steady", n_subjects=max(10, int(count / 1.4)), seed=seed)
    pseudonymiser = Pseudonymiser(bytes.fromhex(secret_hex), "k1")
    envelopes: list[dict[str, Any]] = []
    for f in manifest.files:
        builder = EnvelopeBuilder(
            pseudonymiser, PushOptions(f.partner, f.partner_type, f.entity_type, "steady")
        )
        for row in read_rows(Path(f.path)):
            row.row["record_id"] = "S" + row.row["record_id"]
            try:
                envelopes.append(builder.build(row))
            except InvalidValue:
                continue
    return envelopes[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--push-workers", type=int, default=2)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--steady-rate", type=int, default=1000)
    parser.add_argument("--steady-seconds", type=int, default=60)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--topics-cache",
        type=Path,
        default=None,
        help="Keep the pushed topics in this directory and, when it holds them already, "
        "produce them from there instead of generating and pushing again (the matching "
        "service sees the same messages; the push is not measured then).",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="Record the bulk phase's service with py-spy into this file (collapsed stacks); "
        "the peak memory then includes py-spy's.",
    )
    args = parser.parse_args()

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="riec-throughput-"))
    work.mkdir(parents=True, exist_ok=True)
    with fresh_database(args.database_url, work) as url:
        run(args, work, url)


def run(args: argparse.Namespace, work: Path, url: str) -> None:
    connect(url).dispose()  # create the tables before the service starts
    result: dict[str, Any] = {
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}",
        "database": url.split(":")[0],
        "command": " ".join([sys.executable.split("/")[-1], *sys.argv]),
        "goals": GOALS,
    }
    timings: dict[str, float] = {}

    cache = args.topics_cache
    cached = cache is not None and (cache / "manifest.json").exists()
    if cached:
        saved = json.loads((cache / "manifest.json").read_text())
        secret_hex = saved["secret"]
    else:
        t0 = time.monotonic()
        manifest = generate_dataset(
            work / "files", n_subjects=math.ceil(args.records / RECORDS_PER_SUBJECT), seed=2026
        )
        timings["generate"] = time.monotonic() - t0
        secret_hex = secrets.token_hex(32)

    with LocalBroker(log_path=work / "broker.log") as broker:
        settings = RiecSettings(
            data_dir=work,
            database_url=url,
            bootstrap_servers=broker.bootstrap,
            poll_max_records=2000,
            session_timeout_ms=6000,
            heartbeat_interval_ms=1000,
            metrics_port=free_port(),
        )
        if cached:
            create_topics(settings, saved["partners"], partitions=saved["partitions"])
            t0 = time.monotonic()
            pushed = restore_topics(settings, cache)
            timings["produce_from_cache"] = time.monotonic() - t0
            result["topics_cache"] = str(cache)
        else:
            partners = sorted({f.partner for f in manifest.files})
            create_topics(settings, partners, partitions=args.partitions)
            t0 = time.monotonic()
            pushed = push_parallel(settings, manifest.files, secret_hex, args.push_workers)
            timings["push"] = time.monotonic() - t0
            if cache is not None:
                dump_topics(settings, partners, cache)
                (cache / "manifest.json").write_text(
                    json.dumps(
                        {
                            "secret": secret_hex,
                            "partners": partners,
                            "partitions": args.partitions,
                            "records": pushed,
                        }
                    )
                )
        result["records_pushed"] = pushed
        print(f"{pushed} records on the topics in {time.monotonic() - t0:.0f}s", flush=True)

        # -- bulk: until caught up ---------------------------------------------------------
        t0 = time.monotonic()
        profiler = (
            ["py-spy", "record", "--format", "raw", "--rate", "50", "-o", str(args.profile), "--"]
            if args.profile
            else []
        )
        service = subprocess.Popen(
            [*profiler, *riec_command(), "match", "run", "--until-caught-up"],
            env=service_env(settings),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        sampler = RssSampler(service.pid)
        sampler.start()
        service.wait()
        sampler.running = False
        timings["bulk_wall"] = time.monotonic() - t0
        landed, window = landed_window(url)
        result["bulk"] = {
            "records_landed": landed,
            "wall_seconds": round(timings["bulk_wall"], 1),
            "records_per_second_wall": round(landed / timings["bulk_wall"], 1),
            "records_per_second_sustained": round(landed / window, 1) if window else None,
            "peak_rss_gib": round(sampler.peak / 2**30, 3),
            # CPU time does not depend on what else the machine runs, as wall time does.
            "service_cpu_seconds": round(sampler.cpu_seconds, 1),
            "records_per_service_cpu_second": round(landed / max(sampler.cpu_seconds, 1e-9), 1),
            "exit_code": service.returncode,
        }
        print(json.dumps(result["bulk"]), flush=True)

        # -- steady load: latency -----------------------------------------------------------
        envelopes = steady_envelopes(
            work, args.steady_rate * args.steady_seconds, seed=99, secret_hex=secret_hex
        )
        service = subprocess.Popen(
            [*riec_command(), "match", "run"],
            env=service_env(settings),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        sampler = RssSampler(service.pid)
        sampler.start()
        time.sleep(8)  # group join on the test broker waits up to the session timeout
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=5)
        started = time.monotonic()
        for i, envelope in enumerate(envelopes):
            due = started + i / args.steady_rate
            if (delay := due - time.monotonic()) > 0:
                time.sleep(delay)
            envelope["produced_at"] = datetime.now(UTC).isoformat()
            producer.send(
                settings.partner_topic(envelope["partner"]),
                key=envelope["partner_record_id"].encode(),
                value=json.dumps(envelope, separators=(",", ":")).encode(),
            )
        producer.flush()
        sent_seconds = time.monotonic() - started
        deadline = time.monotonic() + 300
        while landed_window(url)[0] < landed + len(envelopes) and time.monotonic() < deadline:
            time.sleep(1)
        with urllib.request.urlopen(f"http://127.0.0.1:{settings.metrics_port}/metrics") as r:
            metrics_text = r.read().decode()
        service.send_signal(signal.SIGTERM)
        service.wait(timeout=60)
        sampler.running = False
        engine = create_engine(url)
        with engine.connect() as conn:
            rows = conn.execute(
                select(Record.produced_at, Record.received_at).where(Record.batch_id == "steady")
            ).all()
        engine.dispose()
        delays = sorted(
            (_aware(r.received_at) - _aware(r.produced_at)).total_seconds() for r in rows
        )

        def quantile(q: float) -> float | None:
            return round(delays[min(len(delays) - 1, int(q * len(delays)))], 3) if delays else None

        result["steady"] = {
            "rate_offered": round(len(envelopes) / sent_seconds, 1),
            "records": len(envelopes),
            "landed": len(delays),
            "histogram_commit_latency": histogram_quantiles(
                metrics_text, "riec_matching_link_latency_seconds"
            ),
            "database_latency": {
                "p50": quantile(0.5),
                "p95": quantile(0.95),
                "p99": quantile(0.99),
            },
            "peak_rss_gib": round(sampler.peak / 2**30, 3),
        }
        print(json.dumps(result["steady"]), flush=True)

    result["timings_seconds"] = {k: round(v, 1) for k, v in timings.items()}
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    print(
        f"reproduce: .venv/bin/python benchmarks/throughput.py --records {args.records}"
        + (f" --database-url {args.database_url}" if args.database_url else "")
    )


def _aware(moment: Any) -> datetime:
    value = moment if isinstance(moment, datetime) else datetime.fromisoformat(str(moment))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


if __name__ == "__main__":
    main()
