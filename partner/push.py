"""``riec partner push``: CSV -> normalise -> pseudonymise -> the partner's topic.

Runs at the partner. Every row either becomes one envelope on the topic (acks=all) or
one line in the rejects file with the reason; nothing is dropped silently. A row sent
without a field whose value was invalid (a date of birth that is no date: see
``partner.encode.DROPPABLE_COLUMNS``) is sent and also gets a line there, as a warning.
The rejects file holds line numbers, record ids, reasons and what was done, never the
offending values. A dry run (``--dry-run``) does all of this except the sending.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal

from contract import SCHEMA_VERSION, EnvelopeError, encode_envelope, load_sharing_rules
from contract.plaintext import find_identifiers
from core.errors import UsageError
from core.files import open_private
from partner.csv_source import SourceRow
from partner.encode import RecordEncoder, parse_date
from partner.errors import InvalidValue
from partner.gemeente import PostcodeGemeenten, gemeentecode_of
from partner.preview import PushPreview
from partner.pseudonymise import SCHEME, Pseudonymiser
from partner.record_id_guard import check_record_id

DEFAULT_RETENTION_DAYS = 5 * 365

#: What happened to a row with an invalid value (the ``action`` column of the rejects file).
ROW_REJECTED: Final = "row_rejected"
FIELD_DROPPED: Final = "field_dropped"
Action = Literal["row_rejected", "field_dropped"]
REJECTS_HEADER: Final = ("line", "record_id", "field", "reason", "action")


@dataclass(frozen=True)
class PushOptions:
    partner: str
    partner_type: str
    entity_type: str
    batch_id: str
    legal_basis: str | None = None
    retention_days: int = DEFAULT_RETENTION_DAYS
    #: Where a row names no gemeente: its postcode's (see :mod:`partner.gemeente`), else,
    #: for a gemeente, its own code.
    postcode_gemeenten: PostcodeGemeenten | None = None
    own_gemeentecode: str | None = None


@dataclass
class PushReport:
    batch_id: str
    read: int = 0
    sent: int = 0
    rejected: int = 0
    rejects_path: Path | None = None
    reasons: dict[str, int] = field(default_factory=dict)
    #: Fields left out of rows that were sent (e.g. a birth date that is no calendar date).
    dropped: int = 0
    dropped_reasons: dict[str, int] = field(default_factory=dict)
    #: A dry run checks and encodes every row but sends nothing: ``sent`` stays 0 and
    #: ``would_send`` counts the rows that passed every check.
    dry_run: bool = False
    would_send: int = 0
    #: Names and counts of what the rows held and would carry (dry runs only; no values).
    preview: PushPreview | None = None
    #: The key the rows were pseudonymised with, to compare with other partners.
    key_version: str = ""
    key_fingerprint: str = ""


@dataclass(frozen=True)
class Reject:
    line: int
    record_id: str
    field: str
    reason: str
    action: Action = ROW_REJECTED


def new_batch_id() -> str:
    # Digits and letters only where no identifier pattern can form (a random hex suffix
    # can read as a postcode or a plate, which the leak guard would rightly refuse).
    now = datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%S}.{now.microsecond:06d}Z"


def partner_type_of(partner: str) -> str:
    """Partner ids start with their type: ``gemeente-tilburg`` -> ``gemeente``."""
    return partner.split("-", 1)[0]


class EnvelopeBuilder:
    """Builds validated envelopes for the rows of one partner file."""

    def __init__(self, pseudonymiser: Pseudonymiser, options: PushOptions) -> None:
        self.options = options
        self.encoder = RecordEncoder(pseudonymiser)
        self.key_version = pseudonymiser.key_version
        self.rules = load_sharing_rules()
        if found := find_identifiers(options.batch_id):
            raise UsageError(f"the batch id looks like a personal identifier ({found[0]})")

    def build(self, source: SourceRow) -> dict[str, Any]:
        """The envelope of one row; raises :class:`InvalidValue` when the row is rejected."""
        return self.build_checked(source)[0]

    def build_checked(self, source: SourceRow) -> tuple[dict[str, Any], tuple[InvalidValue, ...]]:
        """The envelope of one row and the fields left out of it for an invalid value."""
        row = source.row
        dropped: tuple[InvalidValue, ...] = ()
        record_id = check_record_id((row.get("record_id") or "").strip())
        operation = (row.get("operatie") or "upsert").strip().lower() or "upsert"
        if operation not in {"upsert", "retract"}:
            raise InvalidValue("operatie", "must be upsert or retract")
        envelope: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "message_id": uuid.uuid4().hex,
            "partner": self.options.partner,
            "partner_type": self.options.partner_type,
            "partner_record_id": record_id,
            "batch_id": self.options.batch_id,
            "operation": operation,
            "entity_type": self.options.entity_type,
            "produced_at": datetime.now(UTC).isoformat(),
            "pseudonymisation": {"scheme": SCHEME, "key_version": self.key_version},
        }
        if operation == "upsert":
            encoded = self.encoder.encode(self.options.entity_type, row)
            dropped = encoded.dropped
            envelope["attributes"] = encoded.attributes
            if encoded.relations:
                envelope["relations"] = encoded.relations
            envelope["signal"] = self._signal(row)
            envelope["legal_basis"] = self._legal_basis(row)
            envelope["retention_until"] = self._retention(row, envelope["signal"]["date"])
            try:
                gemeentecode = gemeentecode_of(
                    row, self.options.postcode_gemeenten, self.options.own_gemeentecode
                )
            except InvalidValue as exc:
                dropped, gemeentecode = (*dropped, exc), None
            if gemeentecode:
                envelope["gemeentecode"] = gemeentecode
        encode_envelope(envelope, self.rules)  # validates against the contract
        return envelope, dropped

    def _signal(self, row: dict[str, str]) -> dict[str, str]:
        code = (row.get("signaal_code") or "").strip().lower()
        theme = (row.get("thema") or "").strip().lower()
        raw_date = (row.get("signaal_datum") or "").strip()
        if not code:
            raise InvalidValue("signaal_code", "is required")
        if not theme:
            raise InvalidValue("thema", "is required")
        if not raw_date:
            raise InvalidValue("signaal_datum", "is required")
        signal_date = parse_date(raw_date, "signaal_datum")
        if signal_date > date.today():
            raise InvalidValue("signaal_datum", "lies in the future")
        signal = {"code": code, "theme": theme, "date": signal_date.isoformat()}
        category = (row.get("persoonscategorie") or "").strip().lower()
        if self.options.entity_type == "person" and category:
            signal["person_category"] = category
        return signal

    def _legal_basis(self, row: dict[str, str]) -> str:
        basis = (row.get("grondslag") or "").strip().lower() or self.options.legal_basis
        if not basis:
            raise InvalidValue("grondslag", "is required (column or --legal-basis)")
        if not self.rules.is_allowed(self.options.partner_type, basis):
            raise InvalidValue(
                "grondslag",
                f"is not a basis a {self.options.partner_type} may share under "
                f"(sharing rules {self.rules.version})",
            )
        return basis

    def _retention(self, row: dict[str, str], signal_date: str) -> str:
        if raw := (row.get("bewaren_tot") or "").strip():
            return parse_date(raw, "bewaren_tot").isoformat()
        return (
            date.fromisoformat(signal_date) + timedelta(days=self.options.retention_days)
        ).isoformat()


def build_envelopes(
    rows: Iterable[SourceRow],
    builder: EnvelopeBuilder,
    on_reject: Callable[[Reject], None],
) -> Iterable[dict[str, Any]]:
    """Yield an envelope per good row; report every bad row through ``on_reject``.

    A row sent without a field that was invalid is reported too, as ``field_dropped``.
    """
    for source in rows:
        record_id = (source.row.get("record_id") or "").strip()
        try:
            envelope, dropped = builder.build_checked(source)
        except InvalidValue as exc:
            on_reject(Reject(source.line, _safe_id(record_id), exc.field, exc.reason))
            continue
        except EnvelopeError as exc:
            on_reject(Reject(source.line, _safe_id(record_id), exc.reason, exc.detail))
            continue
        for exc in dropped:
            on_reject(
                Reject(source.line, _safe_id(record_id), exc.field, exc.reason, FIELD_DROPPED)
            )
        yield envelope


def _safe_id(record_id: str) -> str:
    try:
        return check_record_id(record_id)
    except InvalidValue:
        return "(withheld)"


class RejectsWriter:
    """Writes the rejects file lazily: no file when every row was good and whole.

    A rejects file of an earlier push of the same file is removed first: left behind
    after the rows were mended, it would list rejects that no longer exist.
    ``count`` and ``reasons`` (per field) cover rejected rows; ``dropped`` and
    ``dropped_reasons`` the fields left out of rows that were sent.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.unlink(missing_ok=True)
        self._handle: Any = None
        self._writer: Any = None
        self.count = 0
        self.reasons: dict[str, int] = {}
        self.dropped = 0
        self.dropped_reasons: dict[str, int] = {}

    @property
    def written(self) -> bool:
        """Whether the file exists: a row was rejected or a field dropped."""
        return self._writer is not None

    def __call__(self, reject: Reject) -> None:
        if self._writer is None:
            # Line numbers and record ids of the partner's own data: owner only.
            self._handle = open_private(self.path, "w", newline="")
            self._writer = csv.writer(self._handle)
            self._writer.writerow(REJECTS_HEADER)
        self._writer.writerow(
            [reject.line, reject.record_id, reject.field, reject.reason, reject.action]
        )
        if reject.action == FIELD_DROPPED:
            self.dropped += 1
            self.dropped_reasons[reject.field] = self.dropped_reasons.get(reject.field, 0) + 1
            return
        self.count += 1
        self.reasons[reject.field] = self.reasons.get(reject.field, 0) + 1

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
