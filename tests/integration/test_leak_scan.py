"""Leak scan: no identifier or name from the partners' files reaches anything the RIEC side holds.

The synthetic partner files go the whole way: ``riec partner push`` logic with a fresh
secret, the real broker, the matching service, the entities export and both DAGs run
in-process. Then every plaintext value of the partner files (the *needles*) is looked for
in every byte the RIEC side holds (the *haystack*): every column of every table, every
message (key, value, headers) on the partner topics and the dead-letter topic, the captured
logs and console output, every file in the RIEC data directory (the SQLite file and its WAL
included), the broker log, and the Airflow metadata tables that carry task data.

The partner side (source files, rejects files, the key) lives in a directory of its own and
is not part of the haystack.

Matching rules, chosen so that the scan neither misses a leak in the forms partners write
nor trips over random pseudonyms:

* text is case- and accent-folded and split into alphanumeric tokens; a needle must be a
  whole token (or run of tokens), never part of a longer one, so a BSN inside a hex digest or
  a name inside a longer word does not count;
* numbers may be written with single dots or blanks between digit groups ("0123.45.672"),
  postcodes with or without a blank, kentekens with or without dashes, birth dates with
  dashes or slashes;
* names are looked for as words of at least four letters (surname cores, given names as
  written and in their formal form); streets and company trade-name cores as whole
  phrases (one-word ones as words); tussenvoegsels and titles are not needles. Shorter
  names ("Bos", "Vos", "Kok", "Jan") are left out: as words they occur in ordinary text
  and codes, and three letters identify nobody. No other word is excluded; should a name
  ever collide with a code the RIEC side writes, the failure names the kind and the place,
  and the word belongs in an explicit, commented exclusion here;
* pseudonyms of the contract's fixed forms (32-hex tokens and blocking keys, 64-hex digests,
  base64 Bloom filters of 1024 bits) are masked before the text scan, because a short name
  can turn up in random base64 by chance; the filters are decoded and their bytes scanned
  too (for needles of six or more characters, which cannot occur in random bytes by chance),
  so a "filter" that carries plaintext is still caught.

A hit is reported by kind and location only, never by value.
"""

from __future__ import annotations

import base64
import csv
import json
import logging
import re
import secrets
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest_dags import migrate_airflow_db, use_test_airflow_home
from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import MetaData, create_engine, func, select

from consumers.logs import JsonFormatter
from core.settings import RiecSettings
from partner.encode import parse_date
from partner.errors import InvalidValue
from partner.normalise.addresses import normalise_street
from partner.normalise.companies import normalise_company_name
from partner.normalise.names import PREFIXES, normalise_person_name, parse_full_name
from partner.pseudonymise import Pseudonymiser
from riec.airflow_local import HIT_LIST_DAG, VALIDATE_DAG, run_dag
from riec.broker import LocalBroker
from riec.export import export_entities
from riec.pipeline import PartnerFile, create_topics, match_until_caught_up, push_files
from storage import Record, connect
from storage.models import Base
from synthetic.generator import DEFAULT_PARTNERS, generate_dataset

# Before anything imports airflow: it reads its configuration (and creates its home) on import.
use_test_airflow_home()

pytestmark = pytest.mark.integration

SUBJECTS = 150
SEED = 11
MIN_WORD = 4
MIN_WORD_IN_BINARY = 6

# -- folding and tokens --------------------------------------------------------------------------

_NO_DECOMPOSITION = str.maketrans({"ı": "i", "ł": "l", "ø": "o", "æ": "ae", "đ": "d", "ð": "d"})
_TOKEN = re.compile(r"[0-9a-z]+")
_JOINERS = " .-/"
_NUMBER_JOINERS = " ."


def fold(text: str) -> str:
    """Lowercase, without diacritics; separators are kept (they matter for joins)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_NO_DECOMPOSITION))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words_of(text: str) -> list[str]:
    return _TOKEN.findall(fold(text))


# -- needles ---------------------------------------------------------------------------------------

_NOT_NAMES = frozenset(
    {w for p in PREFIXES for w in p.split()}
    | {"dhr", "mevr", "heer", "mevrouw", "junior", "senior", "stichting", "holding"}
)


@dataclass
class Needles:
    """Plaintext values, by the form they are matched in, each with its kind.

    ``written`` holds the needles exactly as some partner file spells them (up to case and
    separators); the others are derived forms: the canonical BSN of an 8-digit one, the
    formal given name of a roepnaam, the normalised street or trade name.
    """

    compact: dict[str, str] = field(default_factory=dict)  # digits, postcodes, plates
    words: dict[str, str] = field(default_factory=dict)
    phrases: dict[str, str] = field(default_factory=dict)
    written: set[str] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.compact) + len(self.words) + len(self.phrases)

    def kinds(self) -> Counter[str]:
        return Counter([*self.compact.values(), *self.words.values(), *self.phrases.values()])

    def kinds_of(self, keys: Iterable[str]) -> list[str]:
        tables = (self.compact, self.words, self.phrases)
        return [next(t[k] for t in tables if k in t) for k in keys]

    def _add(self, table: dict[str, str], key: str, kind: str, written: bool) -> None:
        table.setdefault(key, kind)
        if written:
            self.written.add(key)

    def number(self, kind: str, raw: str, *, eleven: bool = False) -> None:
        digits = "".join(ch for ch in raw if ch.isdigit())
        if len(digits) < 8:
            return
        self._add(self.compact, digits, kind, True)
        if eleven and len(digits) == 8:
            self._add(self.compact, "0" + digits, kind, False)
        if eleven and len(digits) == 9 and digits.startswith("0"):
            self._add(self.compact, digits[1:], kind, False)

    def code(self, kind: str, raw: str) -> None:
        """Postcodes and kentekens: letters and digits only, lowercase."""
        compact = "".join(words_of(raw))
        if len(compact) >= 6:
            self._add(self.compact, compact, kind, True)

    def name_words(self, kind: str, text: str, *, written: bool) -> None:
        for word in words_of(text):
            if len(word) >= MIN_WORD and word.isalpha() and word not in _NOT_NAMES:
                self._add(self.words, word, kind, written)

    def phrase(self, kind: str, text: str, *, written: bool) -> None:
        tokens = words_of(text)
        if len(tokens) > 1:
            self._add(self.phrases, " ".join(tokens), kind, written)
        elif tokens and len(tokens[0]) >= MIN_WORD and tokens[0].isalpha():
            self._add(self.words, tokens[0], kind, written)

    def birth_date(self, raw: str) -> None:
        try:
            day = parse_date(raw, "geboortedatum")
        except InvalidValue:
            return
        digits = "".join(ch for ch in raw if ch.isdigit())
        for form in (day.strftime("%Y%m%d"), day.strftime("%d%m%Y")):
            self._add(self.compact, form, "birth_date", form == digits)


def collect_needles(files: Iterable[Path]) -> Needles:
    needles = Needles()
    for path in files:
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                _row_needles(needles, {k: (v or "").strip() for k, v in row.items()})
    return needles


def _row_needles(needles: Needles, row: dict[str, str]) -> None:
    for column in ("bsn", "bestuurder_bsn", "houder_bsn"):
        needles.number("bsn", row.get(column, ""), eleven=True)
    needles.number("rsin", row.get("rsin", ""), eleven=True)
    needles.number("kvk", row.get("kvk_nummer", ""))
    needles.number("kvk", row.get("houder_kvk", ""))
    needles.number("vestigingsnummer", row.get("vestigingsnummer", ""))
    needles.number("bag_id", row.get("bag_id", ""))
    if row.get("postcode"):
        needles.code("postcode", row["postcode"])
    if row.get("kenteken"):
        needles.code("kenteken", row["kenteken"])
    if row.get("geboortedatum"):
        needles.birth_date(row["geboortedatum"])
    if row.get("straat"):
        needles.phrase("street", row["straat"], written=True)
        needles.phrase("street", normalise_street(row["straat"]), written=False)
    if row.get("handelsnaam"):
        core = normalise_company_name(row["handelsnaam"]).core
        needles.phrase("company_name", core, written=False)
    given, prefix, surname, full = (
        row.get(c, "") for c in ("voornamen", "tussenvoegsel", "achternaam", "naam")
    )
    if given or surname or full:
        name = (
            normalise_person_name(given, prefix, surname)
            if given or surname
            else parse_full_name(full)
        )
        for part in name.surnames:
            needles.name_words("surname", part, written=False)
        needles.name_words("surname", surname, written=True)
        for part in name.given_names:
            needles.name_words("given_name", part, written=False)
        needles.name_words("given_name", given, written=True)
        # In one field the parse says which words are which; the rest count as names too.
        needles.name_words("name", full, written=True)


# -- scanning --------------------------------------------------------------------------------------

_HEX = re.compile(r"(?<![0-9A-Za-z])[0-9a-f]{32,}(?![0-9A-Za-z])")
_FILTER = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{171}=(?![A-Za-z0-9+/=])")


def mask_pseudonyms(text: str) -> tuple[str, list[bytes]]:
    """``text`` with fixed-form pseudonyms blanked out, and the decoded filters."""
    decoded: list[bytes] = []

    def take_filter(match: re.Match[str]) -> str:
        raw = base64.b64decode(match.group())
        if len(raw) != 128:
            return match.group()
        decoded.append(raw)
        return " "

    return _HEX.sub(" ", _FILTER.sub(take_filter, text)), decoded


@dataclass(frozen=True)
class Finding:
    """Where a needle of which kind turned up. Never the value itself."""

    location: str
    kind: str


class Scanner:
    def __init__(self, needles: Needles) -> None:
        self.needles = needles
        self.max_phrase = max((k.count(" ") + 1 for k in needles.phrases), default=1)
        #: Needle values found (for measuring the scanner's own recall, never reported).
        self.found: set[str] = set()

    def scan(self, location: str, text: str, *, min_word: int = MIN_WORD) -> Counter[Finding]:
        masked, filters = mask_pseudonyms(text)
        hits = self._scan_text(location, masked, min_word)
        if filters:
            # Bytes outside ASCII become blanks: folded Latin-1 would make letters out of noise.
            raw = "\n".join(f.decode("ascii", errors="replace") for f in filters)
            binary = raw.replace("\ufffd", " ")
            hits.update(
                self._scan_text(f"{location} (decoded filters)", binary, MIN_WORD_IN_BINARY)
            )
        return hits

    def _scan_text(self, location: str, text: str, min_word: int) -> Counter[Finding]:
        folded = fold(text)
        tokens = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(folded)]
        hits: Counter[Finding] = Counter()
        n = self.needles
        for i, (_, end, token) in enumerate(tokens):
            if len(token) >= min_word and (kind := n.words.get(token)):
                self._hit(hits, location, kind, token)
            if kind := n.compact.get(token):
                self._hit(hits, location, kind, token)
            joined, phrase, separators = token, token, set()
            numbers_ok = phrase_ok = True
            for j in range(i + 1, min(i + 1 + max(3, self.max_phrase), len(tokens))):
                gap = folded[end : tokens[j][0]]
                end = tokens[j][1]
                numbers_ok = numbers_ok and len(gap) == 1 and gap in _JOINERS
                # "Ringbaan-West", "Jansen en de Vries": words with blanks or one hyphen.
                phrase_ok = phrase_ok and (gap == "-" or (gap.isspace() and len(gap) <= 3))
                if not (numbers_ok or phrase_ok):
                    break
                if numbers_ok:
                    joined += tokens[j][2]
                    separators.add(gap)
                    kind = n.compact.get(joined)
                    if kind and _separators_fit(kind, separators):
                        self._hit(hits, location, kind, joined)
                if phrase_ok:
                    phrase += " " + tokens[j][2]
                    if kind := n.phrases.get(phrase):
                        self._hit(hits, location, kind, phrase)
        return hits

    def _hit(self, hits: Counter[Finding], location: str, kind: str, value: str) -> None:
        hits[Finding(location, kind)] += 1
        self.found.add(value)


def _separators_fit(kind: str, separators: set[str]) -> bool:
    """Dashes join plate groups and dates only; slashes only dates ("17/05/1980")."""
    if kind == "birth_date":
        return True
    if kind == "kenteken":
        return separators <= {"-", " "}
    return separators <= set(_NUMBER_JOINERS)


def describe(hits: Counter[Finding]) -> str:
    return "; ".join(f"{f.kind} in {f.location} (x{n})" for f, n in sorted(hits.items(), key=str))


# -- the haystack ---------------------------------------------------------------------------------


def render(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def dump_database(url: str, label: str, *, only: Iterable[str] | None = None) -> dict[str, str]:
    """Every column of every table as text: ``{"<label> <table>.<column>": text}``."""
    engine = create_engine(url)
    try:
        meta = MetaData()
        meta.reflect(engine, only=list(only) if only is not None else None)
        out: dict[str, str] = {}
        with engine.connect() as conn:
            for table in meta.sorted_tables:
                rows = conn.execute(select(table)).all()
                for index, column in enumerate(table.columns):
                    out[f"{label} {table.name}.{column.name}"] = "\n".join(
                        render(row[index]) for row in rows
                    )
        return out
    finally:
        engine.dispose()


def dump_topics(
    settings: RiecSettings, timeout: float = 60.0
) -> tuple[dict[str, str], Counter[str]]:
    """Every message (key, value, headers) on the run's topics, read from the beginning."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers.split(","), enable_auto_commit=False
    )
    try:
        topics = sorted(
            t
            for t in consumer.topics()
            if t.startswith(settings.topic_prefix) or t == settings.dead_letter_topic
        )
        partitions = [
            TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t))
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(partitions)
        texts: dict[str, list[str]] = {t: [] for t in topics}
        counts: Counter[str] = Counter()
        pending = {tp for tp in partitions if ends.get(tp)}
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for tp, messages in consumer.poll(timeout_ms=500).items():
                for m in messages:
                    headers = " ".join(f"{k}={render(v)}" for k, v in m.headers or [])
                    texts[tp.topic].append(f"{render(m.key)}\t{render(m.value)}\t{headers}")
                    counts[tp.topic] += 1
                if consumer.position(tp) >= (ends.get(tp) or 0):
                    pending.discard(tp)
        assert not pending, "the topics could not be read to their end"
        return {f"topic {t}": "\n".join(lines) for t, lines in texts.items()}, counts
    finally:
        consumer.close()


def dump_files(root: Path, label: str) -> dict[str, str]:
    return {
        f"{label}/{path.relative_to(root)}": path.read_bytes().decode("utf-8", errors="replace")
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


# Airflow tables through which task arguments, results and log lines pass.
AIRFLOW_RUN_TABLES = (
    "xcom",
    "rendered_task_instance_fields",
    "dag_run",
    "task_instance",
    "task_instance_history",
    "asset_event",
    "log",
)


# -- the run ------------------------------------------------------------------------------------


@dataclass
class Run:
    needles: Needles
    partner_files: list[Path]
    haystack: dict[str, str]
    sent: int
    upserts_sent: int
    topic_counts: Counter[str]
    records_in_db: int
    seconds: float


def _retractions(path: Path, partner_dir: Path, count: int = 3) -> Path:
    """A file retracting the first ``count`` records of ``path``, as a partner would."""
    with path.open(newline="", encoding="utf-8") as handle:
        ids = [row["record_id"] for row in csv.DictReader(handle)][:count]
    out = partner_dir / f"retract-{path.parent.name}-{path.name}"
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["record_id", "operatie"])
        writer.writerows([record_id, "retract"] for record_id in ids)
    return out


@pytest.fixture(scope="module")
def airflow_home() -> Path:
    """The test Airflow home, migrated, with Airflow imported.

    Airflow replaces the root logger's handlers when it is first imported, and its own
    handler keeps the stream it found. Importing it here, before the test's log and output
    capture start, leaves that capture in place and Airflow on the session's stream.
    """
    home = use_test_airflow_home()
    migrate_airflow_db(home)
    import airflow.settings  # noqa: F401

    return home


def run_everything(
    settings: RiecSettings,
    airflow_home: Path,
    tmp_path: Path,
    broker: LocalBroker,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Run:
    started = time.monotonic()
    partner_side = tmp_path / "partner-side"
    riec_side = settings.data_dir
    riec_side.mkdir(parents=True, exist_ok=True)
    manifest = generate_dataset(partner_side / "files", n_subjects=SUBJECTS, seed=SEED)
    bases = {spec.partner: spec.legal_basis for spec in DEFAULT_PARTNERS}
    files = [
        PartnerFile(f.partner, f.partner_type, f.entity_type, f.path, bases[f.partner])
        for f in manifest.files
    ]
    key = partner_side / "shared-secret.key"
    key.write_text(secrets.token_hex(32) + "\n", encoding="utf-8")
    pseudonymiser = Pseudonymiser(bytes.fromhex(key.read_text().strip()), "k1")
    rejects = partner_side / "rejects"

    create_topics(settings, {f.partner for f in files})
    reports = push_files(settings, files, pseudonymiser, rejects_dir=rejects)
    upserts_sent = sum(r.sent for r in reports)
    # Retractions, and a file under a key version the RIEC side does not accept, so the
    # tombstones and the dead-letter topic hold something to scan too.
    first = files[0]
    retract = PartnerFile(first.partner, first.partner_type, first.entity_type,
                          _retractions(first.path, partner_side))  # fmt: skip
    reports += push_files(settings, [retract], pseudonymiser, rejects_dir=rejects)
    vehicles = next(f for f in files if f.entity_type == "vehicle")
    stray = Pseudonymiser(secrets.token_bytes(32), "k9")
    stray_sent = push_files(settings, [vehicles], stray, rejects_dir=rejects)[0].sent
    sent = sum(r.sent for r in reports) + stray_sent

    # From here on everything is RIEC side: what it logs is part of the haystack.
    capfd.readouterr()
    caplog.clear()
    caplog.set_level(logging.INFO, logger="riec")
    caplog.set_level(logging.INFO, logger="kafka")
    log_file = riec_side / "logs" / "riec.jsonl"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    logging.getLogger().addHandler(handler)
    try:
        db = connect(settings.resolved_database_url)
        try:
            stats = match_until_caught_up(settings, db, max_seconds=120)
            # The stray records and their batch report, which names the same key version.
            assert stats.dead_letters == {"unknown_key_version": stray_sent + 1}
            export_entities(db, riec_side / "entities.csv", actor="leak-scan")
            with db.session() as session:
                records_in_db = session.scalar(select(func.count()).select_from(Record)) or 0
        finally:
            db.dispose()
        monkeypatch.setenv("RIEC_DATA_DIR", str(riec_side))
        monkeypatch.setenv("RIEC_DATABASE_URL", settings.resolved_database_url)
        monkeypatch.delenv("RIEC_HITLIST_DIR", raising=False)
        monkeypatch.delenv("RIEC_HITLIST_CRITERIA", raising=False)
        for dag_id in (VALIDATE_DAG, HIT_LIST_DAG):
            state, _ = run_dag(dag_id)
            assert state == "success", f"{dag_id} ended in {state}"
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    console = capfd.readouterr()

    haystack: dict[str, str] = {}
    haystack.update(dump_database(settings.resolved_database_url, "database"))
    topics, topic_counts = dump_topics(settings)
    haystack.update(topics)
    haystack.update(dump_files(riec_side, "riec-side"))
    if broker.log_path is not None and broker.log_path.exists():
        haystack["broker log"] = broker.log_path.read_text(encoding="utf-8", errors="replace")
    haystack["captured log messages"] = "\n".join(
        f"{r.name} {r.getMessage()} {render(getattr(r, 'riec_fields', None))}"
        for r in caplog.records
    )
    haystack["captured log text"] = caplog.text
    haystack["console output"] = console.out
    haystack["console errors"] = console.err
    airflow_db = f"sqlite:///{airflow_home / 'airflow.db'}"
    haystack.update(dump_database(airflow_db, "airflow", only=_existing(airflow_db)))
    haystack.update(dump_files(airflow_home / "logs", "airflow-logs"))

    return Run(
        needles=collect_needles(f.path for f in files),
        partner_files=[f.path for f in files],
        haystack=haystack,
        sent=sent,
        upserts_sent=upserts_sent,
        topic_counts=topic_counts,
        records_in_db=records_in_db,
        seconds=time.monotonic() - started,
    )


def _existing(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        return [t for t in AIRFLOW_RUN_TABLES if t in meta.tables]
    finally:
        engine.dispose()


def plant_control(path: Path, needles: Needles) -> set[str]:
    """A file holding one needle of each planted kind, written as partners write them."""
    pick = {kind: next(k for k, v in needles.compact.items() if v == kind)
            for kind in ("bsn", "postcode", "kenteken")}  # fmt: skip
    surname = next(k for k, v in needles.words.items() if v == "surname")
    bsn = pick["bsn"]
    lines = [
        f"a BSN as a spreadsheet writes it: {bsn[:4]}.{bsn[4:6]}.{bsn[6:]}",
        f"a postcode: {pick['postcode'][:4]} {pick['postcode'][4:].upper()}",
        f"a plate: {pick['kenteken'].upper()}",
        f"a name in capitals: {surname.upper()}, J.",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"bsn", "postcode", "kenteken", "surname"}


# -- the test ------------------------------------------------------------------------------------


def test_nothing_the_riec_side_holds_contains_partner_plaintext(
    settings: RiecSettings,
    airflow_home: Path,
    tmp_path: Path,
    broker: LocalBroker,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = run_everything(settings, airflow_home, tmp_path, broker, caplog, capfd, monkeypatch)
    needles = run.needles
    scanner = Scanner(needles)

    # Not vacuous: hundreds of needles of every kind, and a haystack holding every record.
    kinds = needles.kinds()
    assert len(needles) >= 300, f"only {len(needles)} needles"
    for kind in ("bsn", "postcode", "kenteken", "kvk", "bag_id", "surname", "street",
                 "company_name", "birth_date", "given_name"):  # fmt: skip
        assert kinds[kind] >= 5, f"too few {kind} needles: {kinds[kind]}"
    assert run.records_in_db == run.upserts_sent, "records missing from the database"
    assert sum(run.topic_counts.values()) >= run.sent, "messages missing from the topics"
    tables = {loc.split()[1].split(".")[0] for loc in run.haystack if loc.startswith("database ")}
    assert tables >= set(Base.metadata.tables), "a table was not dumped"
    assert sum(len(text) for text in run.haystack.values()) > 500_000
    for place in ("captured log messages", "riec-side/logs/riec.jsonl", "console output",
                  "airflow xcom.value", f"topic {settings.dead_letter_topic}"):  # fmt: skip
        assert run.haystack.get(place), f"nothing captured from {place}"
    assert any("hitlists/latest" in place for place in run.haystack)

    # The scanner finds what there is to find: in the partners' own files, every needle in
    # the form a file spells it (derived forms, such as the formal name of a roepnaam, need
    # not occur there) ...
    for path in run.partner_files:
        scanner.scan(f"partner file {path.name}", path.read_text(encoding="utf-8"))
    missed = Counter(needles.kinds_of(needles.written - scanner.found))
    assert not missed, f"the scanner misses needles in their own source: {dict(missed)}"
    recall = len(scanner.found) / len(needles)
    # ... and a planted positive control in the haystack is found, by kind and place.
    control = tmp_path / "control.txt"
    planted = plant_control(control, needles)
    haystack = {**run.haystack, "control file": control.read_text(encoding="utf-8")}

    hits: Counter[Finding] = Counter()
    for location, text in haystack.items():
        hits.update(scanner.scan(location, text))
    found_in_control = {f.kind for f in hits if f.location == "control file"}
    assert found_in_control == planted, f"the positive control was not found: {found_in_control}"
    leaks = Counter({f: n for f, n in hits.items() if f.location != "control file"})
    assert not leaks, f"plaintext on the RIEC side: {describe(leaks)}"
    # The figures are worth seeing with -s.
    print(
        f"leak scan: {len(needles)} needles ({dict(kinds)}), {len(run.haystack)} places, "
        f"{sum(len(t) for t in run.haystack.values())} characters, scanner recall on the "
        f"source files {recall:.1%}, pipeline {run.seconds:.0f}s"
    )


# -- the dead-letter copy of a refused record ---------------------------------------------------


def test_a_refused_record_id_does_not_reach_the_dead_letter_topic(settings: RiecSettings) -> None:
    """A record id that holds a name is refused by the leak guard; its copy must not carry it.

    The envelope is produced directly, keyed by its record id as ``riec partner push`` keys
    it, so the test does not depend on whether the partner-side guard catches the id first.
    """
    from kafka import KafkaProducer

    create_topics(settings, ["gemeente-x"])
    envelope = json.loads(
        (Path(__file__).parent / "data" / "envelope_gemeente_x.json").read_text(encoding="utf-8")
    )
    envelope["partner_record_id"] = "JANSEN-0001"
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    producer.send(
        settings.partner_topic("gemeente-x"),
        key=envelope["partner_record_id"].encode(),
        value=json.dumps(envelope).encode(),
    )
    producer.flush()
    producer.close()

    stats = match_until_caught_up(settings, max_seconds=120)
    assert dict(stats.dead_letters) == {"plaintext_identifier": 1}
    topics, _ = dump_topics(settings)
    dead = topics[f"topic {settings.dead_letter_topic}"]
    assert "riec.value.redacted=true" in dead
    # A boolean, so that a failure does not print what it found.
    leaked = "jansen" in dead.lower()
    assert not leaked, "the refused record id is on the dead-letter topic"
