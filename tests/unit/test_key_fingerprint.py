"""The key fingerprint: the same for the same secret and version, and no pseudonym."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest
from typer.testing import CliRunner

from partner.encode import FILTER_SPECS
from partner.pseudonymise import DEFAULT_FILTER_SPECS, SCHEME, Pseudonymiser, load_secret

SECRET = bytes.fromhex("5f" * 32)
OTHER_SECRET = bytes.fromhex("60" * 32)

#: Every token, filter and blocking-key name the encoder uses, and sample values.
TOKEN_FIELDS = (
    "bsn",
    "birth_date",
    "first_initial",
    "postcode_huisnummer",
    "kvk",
    "vestigingsnummer",
    "rsin",
    "bag_id",
    "kenteken",
)
BLOCKING_NAMES = (
    "bsn",
    "person",
    "postcode_huisnummer",
    "street_city",
    "street_number",
    "kvk",
    "rsin",
    "company_word",
    "bag_id",
    "kenteken",
)
SAMPLES = ("111222333", "1980-05-17", "j", "5038AB|12a", "12345678", "riec", "", "key-check")


def test_fingerprint_is_stable_for_the_same_secret_and_version() -> None:
    assert Pseudonymiser(SECRET, "k1").fingerprint == Pseudonymiser(SECRET, "k1").fingerprint
    # However the secret is written down: hex as keygen writes it, or base64.
    import base64

    as_base64 = base64.b64encode(SECRET).decode()
    assert (
        Pseudonymiser(load_secret(as_base64), "k1").fingerprint
        == Pseudonymiser(load_secret(SECRET.hex().upper() + "\n"), "k1").fingerprint
    )


def test_fingerprint_differs_per_secret_and_per_version() -> None:
    fingerprints = {
        Pseudonymiser(SECRET, "k1").fingerprint,
        Pseudonymiser(SECRET, "k2").fingerprint,
        Pseudonymiser(OTHER_SECRET, "k1").fingerprint,
        Pseudonymiser(OTHER_SECRET, "k2").fingerprint,
    }
    assert len(fingerprints) == 4


def test_fingerprint_is_readable_aloud() -> None:
    fingerprint = Pseudonymiser(SECRET, "k1").fingerprint
    groups = fingerprint.split("-")
    assert [len(g) for g in groups] == [4, 4, 4, 4]
    assert all(c in "0123456789abcdef" for c in "".join(groups))


def test_fingerprint_derives_under_its_own_purpose_label() -> None:
    """Computed independently: HMAC of the secret over a label no encoding uses."""
    label = f"{SCHEME}|k1|fingerprint|key-check".encode()
    raw = hmac.new(SECRET, label, hashlib.sha256).digest()[:8].hex()
    expected = "-".join(raw[i : i + 4] for i in range(0, 16, 4))
    assert Pseudonymiser(SECRET, "k1").fingerprint == expected


def test_fingerprint_is_no_pseudonym_and_no_derived_key() -> None:
    p = Pseudonymiser(SECRET, "k1")
    fingerprint = p.fingerprint.replace("-", "")
    assert SECRET.hex() not in fingerprint and fingerprint not in SECRET.hex()
    pseudonyms = [p.token(name, value) for name in TOKEN_FIELDS for value in SAMPLES]
    pseudonyms += [p.blocking_key(name, value) for name in BLOCKING_NAMES for value in SAMPLES]
    pseudonyms += [p.token("__fingerprint__", "riec")]  # how it was derived before
    for name in (*DEFAULT_FILTER_SPECS, *FILTER_SPECS):
        spec = p.filter_specs.get(name) or FILTER_SPECS[name]
        pseudonyms += [p.bloom_bits(name, {value}, spec).hex() for value in SAMPLES]
    for name in {*TOKEN_FIELDS, *BLOCKING_NAMES, *DEFAULT_FILTER_SPECS, *FILTER_SPECS}:
        for purpose in ("token", "block", "filter", "blip"):
            pseudonyms.append(p._key(purpose, name).hex())
    for pseudonym in pseudonyms:
        assert fingerprint not in pseudonym
        assert pseudonym[:16] != fingerprint


def test_fingerprint_leaves_pseudonyms_unchanged() -> None:
    """Asking for the fingerprint first changes no token, filter or blocking key."""
    fresh, asked = Pseudonymiser(SECRET, "k1"), Pseudonymiser(SECRET, "k1")
    assert asked.fingerprint
    assert asked.token("bsn", "111222333") == fresh.token("bsn", "111222333")
    assert asked.blocking_key("person", "x") == fresh.blocking_key("person", "x")
    assert asked.bloom("surname", "berg") == fresh.bloom("surname", "berg")


# -- riec partner key-fingerprint ---------------------------------------------------------


@pytest.fixture
def secret_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("RIEC_PARTNER_SECRET", "RIEC_PARTNER_SECRET_FILE", "RIEC_PARTNER_KEY_VERSION"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "riec.key"
    path.write_text(SECRET.hex() + "\n", encoding="utf-8")
    return path


def fingerprint_cli(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    from riec.cli import app

    result = CliRunner().invoke(app, ["partner", "key-fingerprint", *args], env=env)
    return result.exit_code, result.output


def test_command_prints_version_and_fingerprint_not_the_secret(secret_file: Path) -> None:
    code, out = fingerprint_cli(["--secret-file", str(secret_file)])
    assert code == 0, out
    assert out == f"key version k1, fingerprint {Pseudonymiser(SECRET, 'k1').fingerprint}\n"
    assert SECRET.hex() not in out


def test_command_reads_the_secret_and_version_as_push_does(secret_file: Path) -> None:
    expected = f"key version k2, fingerprint {Pseudonymiser(SECRET, 'k2').fingerprint}\n"
    for args, env in (
        (["--secret-file", str(secret_file)], {"RIEC_PARTNER_KEY_VERSION": "k2"}),
        (["--key-version", "k2"], {"RIEC_PARTNER_SECRET_FILE": str(secret_file)}),
        ([], {"RIEC_PARTNER_SECRET": SECRET.hex(), "RIEC_PARTNER_KEY_VERSION": "k2"}),
    ):
        code, out = fingerprint_cli(args, env)
        assert (code, out) == (0, expected), (args, env)


def test_command_without_a_usable_secret_stops_with_code_2(
    secret_file: Path, tmp_path: Path
) -> None:
    code, out = fingerprint_cli([])
    assert code == 2 and "no secret" in out
    short = tmp_path / "short.key"
    short.write_text("5f" * 8, encoding="utf-8")
    code, out = fingerprint_cli(["--secret-file", str(short)])
    assert code == 2 and "at least 32 bytes" in " ".join(out.split())
    code, out = fingerprint_cli(["--secret-file", str(tmp_path / "missing.key")])
    assert code == 2
