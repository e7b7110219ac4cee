"""``riec partner push --dry-run``: every check of a real push, nothing sent, no broker.

The settings point at 127.0.0.1:1, where nothing listens: creating a producer there fails
(after a bootstrap timeout), so a dry run that touched the broker would fail these tests.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.settings import PartnerSettings
from partner.csv_source import read_header
from partner.preview import PushPreview
from partner.push import PushOptions
from partner.service import push_file

SECRET_HEX = "5f" * 32
UNREACHABLE = "127.0.0.1:1"
BASIS = "avg-6-1-e-uavg-convenant"

#: The partner's own column names, mapped with ``--map``.
MAP = {"record_id": "Kenmerk", "achternaam": "Achter", "geboortedatum": "Geb.datum"}
HEADER = [
    "Kenmerk",
    "bsn",
    "voornamen",
    "Achter",
    "Geb.datum",
    "postcode",
    "huisnummer",
    "operatie",
    "signaal_code",
    "thema",
    "signaal_datum",
    "grondslag",
    "Opmerking",
]
SIGNAL = ["woonfraude_melding", "vastgoedfraude", "2026-02-01", BASIS]
ROWS = [
    ["TLB-1", "111222333", "Johannes", "Berg", "1980-05-17", "5038 AB", "12a", "", *SIGNAL, "x"],
    # A BSN that fails the 11-check: the row is rejected.
    ["TLB-2", "123456789", "", "Smit", "", "", "", "", *SIGNAL, ""],
    # A birth date that is no date: sent without it, with a warning line.
    ["TLB-3", "", "Maria", "Jansen", "1980-02-30", "", "", "", *SIGNAL, ""],
    ["TLB-4", "", "", "", "", "", "", "retract", "", "", "", "", ""],
    # A record id that is a BSN: rejected, and the id withheld in the rejects file.
    ["111222333", "", "", "Visser", "", "", "", "", *SIGNAL, ""],
]
#: Values from the file that must appear nowhere in what a dry run prints.
VALUES = ("111222333", "123456789", "Johannes", "Berg", "Smit", "Jansen", "5038", "1980")

EXPECTED_REJECTS = [
    ["line", "record_id", "field", "reason", "action"],
    ["3", "TLB-2", "bsn", "fails the 11-check", "row_rejected"],
    ["4", "TLB-3", "geboortedatum", "is not a valid calendar date", "field_dropped"],
    ["6", "(withheld)", "record_id", "looks like a personal identifier (bsn)", "row_rejected"],
]


def write_export(path: Path, header: list[str] = HEADER, rows: list[list[str]] = ROWS) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return write_export(tmp_path / "meldingen.csv")


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "riec.key"
    path.write_text(SECRET_HEX + "\n", encoding="utf-8")
    return path


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RIEC_PARTNER_SECRET", "RIEC_PARTNER_SECRET_FILE", "RIEC_PARTNER_KEY_VERSION"):
        monkeypatch.delenv(name, raising=False)


def options() -> PushOptions:
    return PushOptions(
        partner="gemeente-tilburg",
        partner_type="gemeente",
        entity_type="person",
        batch_id="20260301T120000.000000Z",
    )


def test_dry_run_checks_every_row_writes_rejects_and_sends_nothing(
    export: Path, secret_file: Path, tmp_path: Path
) -> None:
    rejects = tmp_path / "out" / "meldingen.rejects.csv"
    report = push_file(
        export,
        options(),
        settings=PartnerSettings(bootstrap_servers=UNREACHABLE),
        secret_file=secret_file,
        mapping=MAP,
        rejects_path=rejects,
        dry_run=True,
    )
    assert report.dry_run
    assert (report.read, report.would_send, report.sent, report.rejected) == (5, 3, 0, 2)
    assert report.reasons == {"bsn": 1, "record_id": 1}
    assert (report.dropped, report.dropped_reasons) == (1, {"geboortedatum": 1})
    assert report.rejects_path == rejects
    assert read_csv(rejects) == EXPECTED_REJECTS
    assert report.key_version == "k1" and len(report.key_fingerprint) == 19

    preview = report.preview
    assert preview is not None
    assert preview.rows == 5 and preview.envelopes == 3
    assert dict(preview.operations) == {"upsert": 2, "retract": 1}
    # Columns under our names, so the mapping took effect.
    assert preview.values["record_id"] == 5 and preview.values["achternaam"] == 4
    assert preview.values["geboortedatum"] == 2
    assert dict(preview.tokens) == {
        "bsn": 1,
        "birth_date": 1,
        "first_initial": 2,
        "postcode_huisnummer": 1,
    }
    assert dict(preview.filters) == {
        "given_names": 2,
        "surname": 2,
        "birth_date": 1,
        "full_name": 2,
    }
    assert dict(preview.relations) == {"located_at address (postcode_huisnummer)": 1}
    assert preview.blocking_keys > 0


def run_cli(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    from riec.cli import app

    result = CliRunner().invoke(
        app,
        ["partner", "push", *args],
        env={"RIEC_BOOTSTRAP_SERVERS": UNREACHABLE, "COLUMNS": "500", **(env or {})},
    )
    # Rich wraps lines at the width of a terminal (COLUMNS here); compare the words.
    return result.exit_code, " ".join(result.output.split())


def push_args(export: Path, secret_file: Path, *extra: str) -> list[str]:
    maps = [f"--map={ours}={theirs}" for ours, theirs in MAP.items()]
    return [
        str(export),
        "--partner",
        "gemeente-tilburg",
        "--entity-type",
        "person",
        "--secret-file",
        str(secret_file),
        *maps,
        "--dry-run",
        *extra,
    ]


@pytest.mark.usefixtures("clean_env")
def test_dry_run_command_prints_summary_and_preview(export: Path, secret_file: Path) -> None:
    code, out = run_cli(push_args(export, secret_file))
    assert code == 0, out
    assert "dry run: nothing was sent" in out
    assert "read 5, would send 3, rejected 2" in out
    assert "sent 0" not in out
    assert "fields left out of rows that would be sent: geboortedatum: 1" in out
    assert "rejected rows by field: bsn: 1, record_id: 1" in out
    assert f"see {export.with_suffix('.rejects.csv')}" in out
    assert read_csv(export.with_suffix(".rejects.csv")) == EXPECTED_REJECTS
    # The fingerprint, not the secret.
    assert "key version k1, fingerprint " in out and SECRET_HEX not in out
    # The preview: names and counts from which a partner sees the mapping took effect.
    assert "record_id 5 (from column Kenmerk)" in out
    assert "achternaam 4 (from column Achter)" in out
    assert "geboortedatum 2 (from column Geb.datum)" in out
    assert "not in the file: bewaren_tot, tussenvoegsel, naam," in out
    assert "ignored, never sent (not a person column): opmerking" in out
    assert "of 3 to send: upsert 2, retract 1" in out
    assert "tokens: first_initial 2, bsn 1, birth_date 1, postcode_huisnummer 1" in out
    assert "relations: located_at address (postcode_huisnummer) 1" in out
    assert "had no effect" not in out
    for value in VALUES:
        assert value not in out


@pytest.mark.usefixtures("clean_env")
def test_dry_run_exit_codes_are_those_of_a_push(export: Path, secret_file: Path) -> None:
    code, out = run_cli(push_args(export, secret_file, "--fail-on-rejects"))
    assert code == 3, out
    assert "would send 3" in out

    good = write_export(export.with_name("good.csv"), rows=[ROWS[0], ROWS[3]])
    code, out = run_cli(push_args(good, secret_file, "--fail-on-rejects"))
    assert code == 0, out
    assert "read 2, would send 2, rejected 0" in out
    assert not good.with_suffix(".rejects.csv").exists()

    code, out = run_cli(push_args(export, secret_file, "--map", "record_id"))
    assert code == 2 and "--map expects ours=theirs" in out
    code, out = run_cli(push_args(export, secret_file, "--batch-id", "5038AB"))
    assert code == 2 and "batch id looks like a personal identifier" in out


@pytest.mark.usefixtures("clean_env")
def test_dry_run_without_a_secret_stops_with_code_2(export: Path) -> None:
    args = [a for a in push_args(export, Path("x")) if a not in {"--secret-file", "x"}]
    code, out = run_cli(args)
    assert code == 2
    assert "no secret" in out


@pytest.mark.usefixtures("clean_env")
def test_dry_run_takes_the_secret_from_the_environment(export: Path, secret_file: Path) -> None:
    args = [
        a for a in push_args(export, secret_file) if a not in {"--secret-file", str(secret_file)}
    ]
    _, from_file = run_cli(push_args(export, secret_file))
    code, out = run_cli(args, env={"RIEC_PARTNER_SECRET_FILE": str(secret_file)})
    assert code == 0, out
    fingerprint = out.split("fingerprint ")[1].split()[0]
    assert f"fingerprint {fingerprint}" in from_file


@pytest.mark.usefixtures("clean_env")
def test_dry_run_says_when_a_mapping_had_no_effect(export: Path, secret_file: Path) -> None:
    code, out = run_cli(push_args(export, secret_file, "--map", "huisnummer=Huisnr"))
    assert code == 0, out
    assert "--map huisnummer=Huisnr had no effect: the file has no column Huisnr" in out
    # The file's own huisnummer column is read, and not attributed to the mapping.
    assert "huisnummer 1 postcode" in out


def test_preview_withholds_column_names_of_a_file_without_header(tmp_path: Path) -> None:
    # The first line is data: its "column names" are values and must not be shown.
    path = write_export(tmp_path / "no-header.csv", header=ROWS[0], rows=ROWS[1:3])
    preview = PushPreview("person", {}, read_header(path))
    from partner.csv_source import read_rows

    for row in read_rows(path):
        preview.add_row(row.row)
    text = "\n".join(preview.lines())
    assert "13 columns, names not shown" in text
    assert "Is it a header line?" in text
    for value in VALUES:
        assert value not in text


def test_preview_withholds_unknown_column_names_that_look_like_identifiers() -> None:
    preview = PushPreview("person", {}, ("record_id", "5038 AB", "Notitie"))
    preview.add_row({"record_id": "TLB-1", "5038 ab": "", "notitie": "x"})
    text = "\n".join(preview.lines())
    assert "ignored, never sent (not a person column): notitie, 1 more whose name" in text
    assert "5038" not in text


def test_a_mended_file_leaves_no_rejects_file_of_the_earlier_run(
    export: Path, secret_file: Path, tmp_path: Path
) -> None:
    settings = PartnerSettings(bootstrap_servers=UNREACHABLE)
    rejects = tmp_path / "meldingen.rejects.csv"

    def dry_run() -> None:
        push_file(
            export,
            options(),
            settings=settings,
            secret_file=secret_file,
            mapping=MAP,
            rejects_path=rejects,
            dry_run=True,
        )

    dry_run()
    assert rejects.exists()
    write_export(export, rows=[ROWS[0]])  # the partner mends the file
    dry_run()
    assert not rejects.exists()
