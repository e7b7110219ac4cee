"""The workspace's entity page for a hit list of 10,000 entities: p95 latency (goal 300 ms).

A SQLite database is filled with 10,000 entities of three partner records each, their links
with field contributions in the linker's stored format ({"level": ..., "weight": ...}),
their history, and one hit list holding all 10,000 rows. ``riec web`` then runs as its own
process and a signed-in, screened analyst opens the entity pages of random entities over
HTTP on the loopback, one after another, as a browser would. Each view is audited, as in
production. The first page of the list indexes its rows once; that is reported apart.

    .venv/bin/python benchmarks/workspace_entity_page.py [--entities 10000] [--views 300]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import RESULTS_DIR, command_line, machine, write_results
from hitlist.criteria import load_criteria
from riec.broker import free_port
from storage import connect
from storage.models import Entity, EntityEvent, HitList, Link, Record
from workspace import accounts
from workspace.web_sessions import start_session

PARTNERS = (
    ("gemeente-tilburg", "gemeente", "avg-6-1-e-uavg-convenant"),
    ("politie-zwb", "politie", "wpg-art20"),
    ("belastingdienst", "belastingdienst", "awr-art67-urawr-43c"),
)
FIELDS = ("surname", "given_names", "birth_date", "postcode_huisnummer", "bsn")


def fill(db: Any, entities: int, seed: int) -> tuple[int, list[str]]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    today = date.today()
    ids = [f"E{rng.getrandbits(76):019x}" for _ in range(entities)]
    rows: list[dict[str, Any]] = []
    with db.session() as session:
        session.execute(
            insert(Entity),
            [
                {
                    "entity_id": e,
                    "entity_type": "person",
                    "created_at": now,
                    "updated_at": now,
                    "record_count": 3,
                    "partner_count": 3,
                    "active": True,
                }
                for e in ids
            ],
        )
        records, links, events = [], [], []
        record_id = 0
        for rank, entity_id in enumerate(ids, start=1):
            members = []
            for partner, partner_type, basis in PARTNERS:
                record_id += 1
                members.append(record_id)
                records.append(
                    {
                        "id": record_id,
                        "partner": partner,
                        "partner_type": partner_type,
                        "partner_record_id": f"{partner[:3].upper()}-{record_id:08d}",
                        "batch_id": "b1",
                        "entity_type": "person",
                        "status": "active",
                        "key_version": "k1",
                        "tokens": {},
                        "filters": {},
                        "relations": [],
                        "signal_code": "signaal",
                        "signal_theme": rng.choice(
                            ["drugs", "witwassen", "vastgoedfraude", "mensenhandel"]
                        ),
                        "signal_date": today - timedelta(days=rng.randrange(700)),
                        "person_category": rng.choice(["verdachte", "betrokkene", None]),
                        "legal_basis": basis,
                        "retention_until": today + timedelta(days=1500),
                        "message_id": f"m{record_id}",
                        "produced_at": now,
                        "source_topic": "t",
                        "source_partition": 0,
                        "source_offset": record_id,
                        "received_at": now,
                        "entity_id": entity_id,
                        "link_weight": 20.0,
                    }
                )
            for a, b in ((0, 1), (0, 2), (1, 2)):
                contributions = {
                    f: {
                        "level": rng.choice(["exact", "dice>=0.9", "dice>=0.7"]),
                        "weight": round(rng.uniform(-2, 12), 2),
                    }
                    for f in FIELDS
                }
                links.append(
                    {
                        "record_a": members[a],
                        "record_b": members[b],
                        "weight": sum(c["weight"] for c in contributions.values()),
                        "probability": 0.999,
                        "contributions": contributions,
                        "model_version": "default",
                        "created_at": now,
                    }
                )
            events.append(
                {
                    "at": now,
                    "entity_id": entity_id,
                    "event": "created",
                    "record_id": members[0],
                    "other_entity_id": None,
                    "details": {},
                }
            )
            themes = sorted({r["signal_theme"] for r in records[-3:]})
            dates = sorted(r["signal_date"] for r in records[-3:])
            rows.append(
                {
                    "rank": rank,
                    "entity_id": entity_id,
                    "entity_type": "person",
                    "score": round(1 - rank / (entities * 2), 4),
                    "partner_count": 3,
                    "partners": {p: True for p, _, _ in PARTNERS},
                    "themes": themes,
                    "first_signal_date": dates[0].isoformat(),
                    "last_signal_date": dates[-1].isoformat(),
                    "link_count": 3,
                    "link_probability_min": 0.999,
                    "link_probability_mean": 0.999,
                    "why_linked": [{"field": "bsn", "weight": 30.0}],
                    "records": [
                        {
                            k: (v.isoformat() if isinstance(v, date) else v)
                            for k, v in r.items()
                            if k
                            in (
                                "partner",
                                "partner_type",
                                "partner_record_id",
                                "batch_id",
                                "legal_basis",
                                "person_category",
                                "signal_code",
                                "signal_theme",
                                "signal_date",
                                "retention_until",
                            )
                        }
                        for r in records[-3:]
                    ],
                    "retention_deadline": (today + timedelta(days=1500)).isoformat(),
                    "requires_human_review": True,
                    "audit_ref": 1,
                    "patterns": [],
                }
            )
        for start in range(0, len(records), 5000):
            session.execute(insert(Record), records[start : start + 5000])
        for start in range(0, len(links), 5000):
            session.execute(insert(Link), links[start : start + 5000])
        session.execute(insert(EntityEvent), events)
        hit_list = HitList(
            created_at=now,
            criteria_version="2026.1",
            criteria=load_criteria().source,
            row_count=len(rows),
            csv_path="",
            html_path="",
            rows=rows,
        )
        session.add(hit_list)
        session.flush()
        return hit_list.id, ids


def get(url: str, cookie: str) -> float:
    request = urllib.request.Request(url, headers={"Cookie": f"riec_session={cookie}"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
        assert response.status == 200, response.status
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--views", type=int, default=300)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    out = Console()
    work = Path(tempfile.mkdtemp(prefix="riec-ws-bench-"))
    url = f"sqlite:///{work / 'riec.db'}"
    db = connect(url)
    started = time.perf_counter()
    hit_list_id, ids = fill(db, args.entities, args.seed)
    fill_seconds = time.perf_counter() - started
    accounts.add_user(
        db,
        "bench",
        display_name="Bench",
        roles="analyst",
        password="benchmark password",
        by="benchmark",
    )
    accounts.record_screening(
        db,
        "bench",
        kind="VOG",
        level="45",
        screened_on=date.today() - timedelta(days=1),
        expires_on=date.today() + timedelta(days=30),
        by="benchmark-coord",
    )
    cookie = start_session(db, accounts.find_user(db, "bench").id, now=datetime.now(UTC))
    port = free_port()
    env = {
        **os.environ,
        "RIEC_DATA_DIR": str(work),
        "RIEC_DATABASE_URL": url,
        "RIEC_WEB_SYNC_SECONDS": "0",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "riec.cli", "web", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.2)
        first_list_ms = get(f"{base}/hitlists/{hit_list_id}", cookie)
        list_ms = [
            get(f"{base}/hitlists/{hit_list_id}?page_number={p}", cookie)
            for p in random.Random(1).sample(range(1, args.entities // 50), 20)
        ]
        rng = random.Random(args.seed)
        for entity in rng.sample(ids, 10):  # warm-up
            get(f"{base}/hitlists/{hit_list_id}/entities/{entity}", cookie)
        times = [
            get(f"{base}/hitlists/{hit_list_id}/entities/{rng.choice(ids)}", cookie)
            for _ in range(args.views)
        ]
    finally:
        server.terminate()
        server.wait(timeout=20)
        db.dispose()
    times.sort()
    p95 = times[int(0.95 * (len(times) - 1))]
    result = {
        "benchmark": "workspace_entity_page",
        "command": command_line(),
        "machine": machine(),
        "backend": "sqlite",
        "entities": args.entities,
        "views": args.views,
        "fill_seconds": round(fill_seconds, 1),
        "first_list_page_ms_including_indexing": round(first_list_ms, 1),
        "list_page_ms_median": round(statistics.median(list_ms), 1),
        "entity_page_ms": {
            "median": round(statistics.median(times), 1),
            "p95": round(p95, 1),
            "max": round(times[-1], 1),
        },
        "goal_p95_ms": 300,
        "met": p95 <= 300,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_results(RESULTS_DIR / "workspace_entity_page.json", result)
    out.print(result)
    out.print(f"reproduce: {command_line()}")


if __name__ == "__main__":
    main()
