"""The synthetic data generator: valid identifiers, documented layout, honest ground truth."""

from __future__ import annotations

import csv
import json
import random
import re
import time
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import DamerauLevenshtein

from contract import load_sharing_rules
from contract.envelope import ENTITY_TYPES
from partner.columns import IDENTIFIER_COLUMNS, columns_for
from synthetic import identifiers as ids
from synthetic import variants as v
from synthetic.generator import (
    DEFAULT_PARTNERS,
    REFERENCE_DATE,
    DatasetManifest,
    PartnerSpec,
    build_world,
    generate_dataset,
)
from synthetic.vocabulary import all_signal_codes

SCHEMA = json.loads(
    (Path(__file__).parents[2] / "contract" / "record-envelope.v1.schema.json").read_text(
        encoding="utf-8"
    )
)
SIGNAL_PROPS = SCHEMA["properties"]["signal"]["properties"]
THEMES = set(SIGNAL_PROPS["theme"]["enum"])
PERSON_CATEGORIES = set(SIGNAL_PROPS["person_category"]["enum"])
PARTNER_TYPES = set(SCHEMA["properties"]["partner_type"]["enum"])
RECORD_ID_RE = re.compile(SCHEMA["properties"]["partner_record_id"]["pattern"])
PARTNER_RE = re.compile(SCHEMA["properties"]["partner"]["pattern"])
BSN_COLUMNS = ("bsn", "bestuurder_bsn", "houder_bsn")
KENTEKEN_COMPACT = [
    re.compile("^" + p.replace("-", "").replace("X", "[A-Z]").replace("9", "[0-9]") + "$")
    for p in ids.SIDECODES.values()
]


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> DatasetManifest:
    return generate_dataset(tmp_path_factory.mktemp("synthetic") / "out")


@pytest.fixture(scope="module")
def rows(dataset: DatasetManifest) -> list[tuple[str, str, dict[str, str]]]:
    """(partner, entity_type, row) for every data row of every partner file."""
    out = []
    for f in dataset.files:
        _, data = _read(f.path)
        out.extend((f.partner, f.entity_type, row) for row in data)
    return out


@pytest.fixture(scope="module")
def rejects(dataset: DatasetManifest) -> dict[tuple[str, str], str]:
    _, data = _read(dataset.rejects_path)
    return {(r["partner"], r["record_id"]): r["field"] for r in data}


@pytest.fixture(scope="module")
def truth(dataset: DatasetManifest) -> dict[tuple[str, str], tuple[str, str]]:
    header, data = _read(dataset.truth_path)
    assert header == ["partner", "record_id", "entity_type", "true_entity_id"]
    return {(r["partner"], r["record_id"]): (r["entity_type"], r["true_entity_id"]) for r in data}


def _parse_date(text: str) -> date:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return date.fromisoformat(text)
    day, month, year = text.split("-")
    return date(int(year), int(month), int(day))


def _kenteken_valid(text: str) -> bool:
    compact = text.replace("-", "").upper()
    return any(p.match(compact) for p in KENTEKEN_COMPACT) and not set(compact) & set("AEIOUCQ")


# ----------------------------------------------------------------------- identifiers


@given(st.integers(min_value=0, max_value=2**32))
@settings(max_examples=200)
def test_generated_bsn_and_rsin_pass_the_11_check(seed: int) -> None:
    rng = random.Random(seed)
    for value in (ids.bsn(rng), ids.rsin(rng)):
        assert len(value) == 9 and ids.elfproef_valid(value)
    assert not ids.elfproef_valid(ids.invalid_bsn(rng))


def test_elfproef_known_values() -> None:
    assert ids.elfproef_valid("111222333")
    assert ids.elfproef_valid("123456782")
    assert not ids.elfproef_valid("123456789")
    assert not ids.elfproef_valid("000000000")
    assert ids.elfproef_valid(
        v.bsn_text("012345672", drop_leading_zero=True)
    ) == ids.elfproef_valid("012345672")


@given(st.integers(min_value=0, max_value=2**32))
@settings(max_examples=200)
def test_other_identifiers_have_their_shape(seed: int) -> None:
    rng = random.Random(seed)
    assert re.fullmatch(r"[1-9]\d{7}", ids.kvk_nummer(rng))
    assert re.fullmatch(r"\d{12}", ids.vestigingsnummer(rng))
    code = ids.postcode(rng, rng.randint(1000, 9999))
    assert ids.postcode_valid(code) and code[-2:] not in {"SA", "SD", "SS"}
    assert not ids.postcode_valid(ids.invalid_postcode(rng))
    plate = ids.kenteken(rng)
    assert ids.kenteken_sidecode(plate) in range(4, 14)
    assert not set(plate) & set("AEIOUCQ")
    assert ids.iban_valid(ids.iban(rng))


def test_iban_and_bag_id() -> None:
    assert ids.iban_valid("NL91ABNA0417164300")
    assert not ids.iban_valid("NL92ABNA0417164300")
    assert ids.bag_id("0855", "20", 123) == "0855200000000123"
    with pytest.raises(ValueError):
        ids.bag_id("855", "20", 1)


# ----------------------------------------------------------------------- variants


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Çelik", "Celik"),
        ("Müller", "Muller"),
        ("Zoë", "Zoe"),
        ("Yılmaz", "Yilmaz"),
        ("Wiśniewski", "Wisniewski"),
        ("Małgorzata", "Malgorzata"),
    ],
)
def test_strip_diacritics(text: str, expected: str) -> None:
    assert v.strip_diacritics(text) == expected


def test_name_variants() -> None:
    given_names = ("Johannes", "Petrus")
    assert v.given_names_text(given_names, "Jan", "full") == "Johannes Petrus"
    assert v.given_names_text(given_names, "Jan", "roepnaam") == "Jan"
    assert v.given_names_text(given_names, "Jan", "initials") == "J.P."
    assert v.surname_fields("van den", "Berg", "inline") == ("", "van den Berg")
    assert v.surname_fields("van den", "Berg", "inverted") == ("", "Berg, van den")
    assert v.surname_fields("van den", "Berg", "abbreviated") == ("v.d.", "Berg")
    assert v.surname_fields("van den", "Berg", "fused") == ("", "Vandenberg")
    assert v.surname_fields("in 't", "Veld", "fused") == ("", "Intveld")
    assert v.married_surname(("de", "Vries"), ("", "Jansen"), spouse_first=True) == (
        "",
        "Jansen-de Vries",
    )
    assert v.naam_text("J.P.", "van den", "Berg", "inverted") == "Berg, van den, J.P."
    assert v.naam_text("Johannes Petrus", "van den", "Berg", "upper_inverted") == (
        "VAN DEN BERG, Johannes Petrus"
    )


def test_value_variants() -> None:
    assert v.company_name_text("Jansen Bouw", "bv", 0) == "Jansen Bouw B.V."
    assert v.company_name_text("Noord Vastgoed", "stichting", 1) == "Stg. Noord Vastgoed"
    assert v.street_text("Dorpsstraat", abbreviate=True) == "Dorpsstr."
    assert v.postcode_text("1234 AB", "lower") == "1234ab"
    assert {v.huisnummer_text(12, "A", "", f) for f in v.HUISNUMMER_FORMS} == {
        "12A",
        "12a",
        "12 A",
        "12-A",
    }
    assert v.kenteken_text("12-BDF-3", "lower_compact") == "12bdf3"
    assert v.date_text(date(1980, 3, 7), "dmy") == "07-03-1980"
    assert v.swap_day_month(date(1980, 3, 7)) == date(1980, 7, 3)
    assert v.swap_day_month(date(1980, 3, 17)) is None


@given(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCÇëï '-", min_size=3, max_size=30),
    st.integers(min_value=0, max_value=2**32),
)
def test_typo_is_one_edit(text: str, seed: int) -> None:
    out = v.typo(text, random.Random(seed))
    assert DamerauLevenshtein.distance(text, out) <= 1


# ----------------------------------------------------------------------- partners


def test_default_partners_are_allowed_by_the_sharing_rules() -> None:
    rules = load_sharing_rules()
    assert len(DEFAULT_PARTNERS) >= 7
    for spec in DEFAULT_PARTNERS:
        assert PARTNER_RE.match(spec.partner)
        assert spec.partner_type in PARTNER_TYPES
        assert set(spec.entity_types) <= set(ENTITY_TYPES)
        assert rules.is_allowed(spec.partner_type, spec.legal_basis), spec.partner


def test_signal_vocabulary_fits_the_schema() -> None:
    code_re = re.compile(SIGNAL_PROPS["code"]["pattern"])
    for partner_type, codes in all_signal_codes().items():
        assert partner_type in PARTNER_TYPES
        for code in codes:
            assert code_re.match(code.code)
            assert code.theme in THEMES
            assert set(code.person_categories) <= PERSON_CATEGORIES


def test_disallowed_legal_basis_is_refused(tmp_path: Path) -> None:
    bad = (PartnerSpec("gemeente-x", "gemeente", ("person",), "wpg-art20"),)
    with pytest.raises(ValueError, match="not allowed"):
        generate_dataset(tmp_path, partners=bad)


# ----------------------------------------------------------------------- dataset


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    first = generate_dataset(tmp_path / "a", n_subjects=150, seed=3)
    second = generate_dataset(tmp_path / "b", n_subjects=150, seed=3)
    other = generate_dataset(tmp_path / "c", n_subjects=150, seed=4)
    names = sorted(p.relative_to(first.out_dir) for p in first.out_dir.rglob("*.csv"))
    names.append(Path("manifest.json"))
    for name in names:
        assert (first.out_dir / name).read_bytes() == (second.out_dir / name).read_bytes()
    assert first.truth_path.read_bytes() != other.truth_path.read_bytes()


def test_layout_and_columns(dataset: DatasetManifest) -> None:
    for f in dataset.files:
        assert f.path == dataset.out_dir / f.partner / f"{f.entity_type}.csv"
        header, data = _read(f.path)
        assert tuple(header) == columns_for(f.entity_type)
        assert len(data) == f.rows
    manifest = json.loads(dataset.manifest_path.read_text(encoding="utf-8"))
    assert manifest["seed"] == dataset.seed == 7
    assert {f["path"] for f in manifest["files"]} == {
        f.path.relative_to(dataset.out_dir).as_posix() for f in dataset.files
    }
    assert len({f.partner_type for f in dataset.files}) >= 5


def test_truth_covers_every_row_except_rejects(
    rows: list[tuple[str, str, dict[str, str]]],
    truth: dict[tuple[str, str], tuple[str, str]],
    rejects: dict[tuple[str, str], str],
) -> None:
    keys = [(partner, row["record_id"]) for partner, _, row in rows]
    assert len(keys) == len(set(keys)), "record ids are unique per partner"
    assert set(truth) | set(rejects) == set(keys)
    assert not set(truth) & set(rejects)
    for partner, entity_type, row in rows:
        key = (partner, row["record_id"])
        if key in truth:
            assert truth[key][0] == entity_type


def test_expected_rejects_are_exactly_the_invalid_rows(
    rows: list[tuple[str, str, dict[str, str]]], rejects: dict[tuple[str, str], str]
) -> None:
    assert len(rejects) >= 2
    assert set(rejects.values()) == {"bsn", "postcode"}
    invalid: dict[tuple[str, str], str] = {}
    for partner, _, row in rows:
        for column in BSN_COLUMNS:
            if row.get(column) and not ids.elfproef_valid(row[column]):
                invalid[(partner, row["record_id"])] = column
        if row.get("postcode") and not ids.postcode_valid(row["postcode"].replace(" ", "")):
            invalid[(partner, row["record_id"])] = "postcode"
    assert invalid == rejects


def test_valid_rows_carry_valid_identifiers(
    rows: list[tuple[str, str, dict[str, str]]], rejects: dict[tuple[str, str], str]
) -> None:
    checked = 0
    for partner, _, row in rows:
        if (partner, row["record_id"]) in rejects:
            continue
        for column in BSN_COLUMNS:
            if row.get(column):
                assert ids.elfproef_valid(row[column])
                checked += 1
        assert not row.get("kvk_nummer") or re.fullmatch(r"\d{8}", row["kvk_nummer"])
        assert not row.get("houder_kvk") or re.fullmatch(r"\d{8}", row["houder_kvk"])
        assert not row.get("vestigingsnummer") or re.fullmatch(r"\d{12}", row["vestigingsnummer"])
        assert not row.get("rsin") or ids.elfproef_valid(row["rsin"])
        assert not row.get("bag_id") or re.fullmatch(r"\d{16}", row["bag_id"])
        assert not row.get("kenteken") or _kenteken_valid(row["kenteken"])
    assert checked > 100
    assert set(IDENTIFIER_COLUMNS) >= set(BSN_COLUMNS)


def test_signals_dates_and_legal_bases(
    dataset: DatasetManifest, rows: list[tuple[str, str, dict[str, str]]]
) -> None:
    rules = load_sharing_rules()
    types = {f.partner: f.partner_type for f in dataset.files}
    window_start = REFERENCE_DATE - timedelta(days=730)
    empty_retention = 0
    for partner, entity_type, row in rows:
        assert RECORD_ID_RE.match(row["record_id"])
        assert not re.search(r"\d{8}", row["record_id"]), "record ids never hold identifiers"
        assert row["thema"] in THEMES
        assert rules.is_allowed(types[partner], row["grondslag"])
        signal_date = date.fromisoformat(row["signaal_datum"])
        assert window_start <= signal_date <= REFERENCE_DATE
        if row["bewaren_tot"]:
            assert row["bewaren_tot"] == signal_date.replace(year=signal_date.year + 5).isoformat()
        else:
            empty_retention += 1
        if entity_type == "person":
            assert row["persoonscategorie"] in PERSON_CATEGORIES | {""}
            assert bool(row["naam"]) != bool(row["voornamen"] or row["achternaam"])
            if row["geboortedatum"]:
                _parse_date(row["geboortedatum"])
    assert 0 < empty_retention < len(rows) / 2


def test_multi_partner_share_is_controlled(
    truth: dict[tuple[str, str], tuple[str, str]],
) -> None:
    partners: dict[str, set[str]] = defaultdict(set)
    for (partner, _), (_, subject) in truth.items():
        partners[subject].add(partner)
    counts = [len(p) for p in partners.values()]
    assert len(partners) == 400
    assert 0.2 <= sum(c >= 2 for c in counts) / len(counts) <= 0.3
    assert max(counts) <= 4 and any(c >= 3 for c in counts)


def test_hot_addresses_have_many_companies(
    dataset: DatasetManifest,
    rows: list[tuple[str, str, dict[str, str]]],
    truth: dict[tuple[str, str], tuple[str, str]],
) -> None:
    companies_at: dict[tuple[str, str], set[str]] = defaultdict(set)
    for partner, entity_type, row in rows:
        key = (partner, row["record_id"])
        if entity_type == "company" and key in truth and row["postcode"]:
            number = re.match(r"\d+", row["huisnummer"])
            assert number
            address = (row["postcode"].replace(" ", "").upper(), number.group())
            companies_at[address].add(truth[key][1])
    assert max(len(c) for c in companies_at.values()) >= 5
    manifest = json.loads(dataset.manifest_path.read_text(encoding="utf-8"))
    assert manifest["patterns"]["flex_offices"] and manifest["patterns"]["straw_men"]


def test_world_relations_are_consistent() -> None:
    world = build_world(400, seed=7)
    per_address: dict[int, int] = defaultdict(int)
    for company in world.companies:
        per_address[company.address] += 1
        assert 0 <= company.director < len(world.persons)
    assert all(per_address[a] >= 5 for a in world.flex_offices)
    residents: dict[int, int] = defaultdict(int)
    for person in world.persons:
        residents[person.address] += 1
        assert person.previous_address != person.address
    assert all(residents[a] >= 5 for a in world.crowded_addresses)
    directed: dict[int, int] = defaultdict(int)
    for company in world.companies:
        directed[company.director] += 1
    assert all(directed[p] >= 3 for p in world.straw_men)
    assert len({p.bsn for p in world.persons}) == len(world.persons)


def test_clean_settings_give_clean_rows(tmp_path: Path) -> None:
    manifest = generate_dataset(
        tmp_path, n_subjects=200, variant_rate=0.0, typo_rate=0.0, missing_rate=0.0, move_rate=0.0
    )
    _, rejects_data = _read(manifest.rejects_path)
    rejected = {(r["partner"], r["record_id"]) for r in rejects_data}
    for f in manifest.files:
        for row in _read(f.path)[1]:
            if (f.partner, row["record_id"]) in rejected:
                continue
            assert row["bewaren_tot"]
            if f.entity_type == "person":
                assert len(row["bsn"]) == 9 and row["geboortedatum"] and row["postcode"]


def test_fast_enough(tmp_path: Path) -> None:
    start = time.perf_counter()
    generate_dataset(tmp_path, n_subjects=400)
    assert time.perf_counter() - start < 1.0
