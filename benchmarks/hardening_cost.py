"""What the Bloom-filter hardening costs in linkage quality, and what it buys against attacks.

The filters are hardened three ways (``partner/pseudonymise.py``): a key per field, random
hashing (bit positions from a keyed PRF, not double hashing) and BLIP bit flipping
(``FilterSpec.flip_rate``, default 0.01). This benchmark encodes one synthetic data set
(2,000 subjects by default) under several settings of flip rate and hashes per q-gram and,
for each setting, measures:

* **linkage quality**: the envelopes are built by the partner-side code (``EnvelopeBuilder``:
  checks, normalisation, pseudonymisation) and landed straight into a fresh SQLite database
  with ``consumers.landing.land_batch`` and the default ``matching.linker.Linker``, in
  batches of 500, as the matching service lands a poll batch, but without the broker (which
  changes nothing about the linkage and would only add minutes); then pairwise precision,
  recall and F1 against the generator's ground truth, overall and for persons (the entity
  type that depends most on the filters);
* **variants near a threshold**: the share of birth dates with day and month swapped that
  still reach the birth-date filter level, and of one-typo surnames that still reach each
  surname level (where the recall cost of the flips comes from);
* **frequency attack**: per filter field, how many distinct filters one value gets (1 when
  the flips depend on the value only), and how many records an attacker re-identifies by
  lining the filters up, most frequent first, with public value frequencies (here: those
  of a second synthetic population of 10,000 subjects, another seed: same distribution,
  other people); the same alignment for the first-initial token;
* **pattern mining**: for each frequent q-gram g and each bit i, the precision of the rule
  "bit i set => g present" over all records; reported is the mean, over frequent q-grams,
  of the best precision among bits set in at least half the records holding g, and the
  share of frequent q-grams with a rule of precision 0.9 or more. This bounds what an
  attack that mines bit patterns for q-grams (Kroll & Steinmetzer 2015; Christen et al.
  2017, 2018) can get out of single bits;
* **similarity preservation**: the correlation between the Dice of two filters and the Dice
  of the q-gram sets behind them, over random pairs. A graph-matching attack needs exactly
  this to be high; linkage does too.

Every setting uses the same secret, so differences come from the setting; ``--repeats``
runs each setting with that many secrets and reports the mean and the spread.

Run from the repository root: ``.venv/bin/python benchmarks/hardening_cost.py``.
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from harness import RESULTS_DIR, Timings, command_line, machine, print_table, write_results
from rich.console import Console

import partner.encode as encode_module
from consumers.landing import Source, land_batch
from matching.comparisons import COMPARISONS
from matching.evaluation import Clustering, evaluate, evaluate_by_type, read_entities, read_truth
from matching.linker import Linker
from matching.similarity import dice
from partner.csv_source import read_rows
from partner.pseudonymise import DEFAULT_FILTER_SPECS, FilterSpec, Pseudonymiser, qgrams
from partner.push import EnvelopeBuilder, PushOptions, Reject, build_envelopes, new_batch_id
from riec.export import export_entities
from storage import connect
from synthetic.generator import DEFAULT_PARTNERS, generate_dataset
from synthetic.variants import swap_day_month, typo

BATCH = 500
MIN_SUPPORT = 10  # a q-gram must occur in this many records to count as frequent
PAIRS = 20_000

#: Every filter the partner side writes: the pseudonymiser's own, and any the record
#: encoder adds (each hardened the same way), so that a setting applies to all of them.
BASE_SPECS: dict[str, FilterSpec] = {
    **DEFAULT_FILTER_SPECS,
    **getattr(encode_module, "FILTER_SPECS", {}),
}


@dataclass(frozen=True)
class Setting:
    flip_rate: float
    hashes_scale: float = 1.0

    @property
    def label(self) -> str:
        return f"flip {self.flip_rate:g}, hashes x{self.hashes_scale:.2g}"

    def specs(self) -> dict[str, FilterSpec]:
        return {
            name: FilterSpec(
                q=spec.q,
                hashes=max(1, round(spec.hashes * self.hashes_scale)),
                flip_rate=self.flip_rate,
            )
            for name, spec in BASE_SPECS.items()
        }


SETTINGS = (
    Setting(0.0),
    Setting(0.01),
    Setting(0.02),
    Setting(0.05),
    Setting(0.0, 2 / 3),
    Setting(0.01, 2 / 3),
    Setting(0.01, 4 / 3),
)


class RecordingPseudonymiser(Pseudonymiser):
    """A pseudonymiser that remembers the text behind each filter and token (benchmark only)."""

    def __init__(self, secret: bytes, key_version: str, specs: dict[str, FilterSpec]) -> None:
        super().__init__(secret, key_version, dict(specs))
        self.plaintext: dict[tuple[str, str], str] = {}

    def bloom(self, field_name: str, text: str) -> str:
        value = super().bloom(field_name, text)
        self.plaintext[(field_name, value)] = text
        return value

    def token(self, field_name: str, value: str) -> str:
        token = super().token(field_name, value)
        self.plaintext[(f"token:{field_name}", token)] = value
        return token


@dataclass
class Encoded:
    items: list[tuple[dict[str, Any], Source]]
    plaintext: dict[tuple[str, str], str]
    rejected: int


def encode_files(files: Sequence[Any], pseudonymiser: RecordingPseudonymiser) -> Encoded:
    """Envelopes for every good row, built by the partner-side code."""
    bases = {spec.partner: spec.legal_basis for spec in DEFAULT_PARTNERS}
    items: list[tuple[dict[str, Any], Source]] = []
    rejects: list[Reject] = []
    offsets: Counter[str] = Counter()
    for f in files:
        options = PushOptions(
            partner=f.partner,
            partner_type=f.partner_type,
            entity_type=f.entity_type,
            batch_id=new_batch_id(),
            legal_basis=bases.get(f.partner),
        )
        builder = EnvelopeBuilder(pseudonymiser, options)
        topic = f"bench.partner.{f.partner}"
        for envelope in build_envelopes(read_rows(f.path), builder, rejects.append):
            items.append((envelope, Source(topic, 0, offsets[topic])))
            offsets[topic] += 1
    return Encoded(items, pseudonymiser.plaintext, len(rejects))


def link(items: Sequence[tuple[dict[str, Any], Source]], work: Path) -> Clustering:
    """Land and link in poll-sized batches on a fresh SQLite database; the resulting entities."""
    db = connect(f"sqlite:///{work / 'riec.db'}")
    try:
        linker = Linker()
        for start in range(0, len(items), BATCH):
            with db.session() as session:
                land_batch(session, linker, items[start : start + BATCH])
        export_entities(db, work / "entities.csv", actor="job:benchmark")
    finally:
        db.dispose()
    return read_entities(work / "entities.csv")


# -- attack statistics ---------------------------------------------------------------------------


def _bits(values: Sequence[str]) -> np.ndarray:
    import base64

    raw = np.frombuffer(b"".join(base64.b64decode(v) for v in values), dtype=np.uint8)
    return np.unpackbits(raw.reshape(len(values), -1), axis=1, bitorder="little").astype(bool)


def field_values(encoded: Encoded, field_name: str) -> list[tuple[str, str]]:
    """(filter, plaintext) of every record that has the field, in record order."""
    out = []
    for envelope, _ in encoded.items:
        value = envelope.get("attributes", {}).get("filters", {}).get(field_name)
        if value is not None and (field_name, value) in encoded.plaintext:
            out.append((value, encoded.plaintext[(field_name, value)]))
    return out


def filter_fields(encoded: Encoded) -> list[str]:
    """Filter fields of the data that carry their own key (not ``surname_2``, a surname)."""
    seen = {
        name
        for envelope, _ in encoded.items
        for name, value in envelope.get("attributes", {}).get("filters", {}).items()
        if (name, value) in encoded.plaintext
    }
    return sorted(seen)


@dataclass(frozen=True)
class Reference:
    """What an attacker knows from public statistics: how often each value occurs.

    Taken from a second synthetic population (another seed) of the same make-up, the way
    an attacker would use national name and municipality statistics: same distribution,
    other people. Values most frequent first, per filter field, and the first initials.
    """

    filters: dict[str, list[str]]
    initials: list[str]


def _ranked(counts: Counter[str]) -> list[str]:
    return [value for value, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def reference_statistics(files: Sequence[Any]) -> Reference:
    pseudonymiser = RecordingPseudonymiser(secrets.token_bytes(32), "ref", BASE_SPECS)
    encoded = encode_files(files, pseudonymiser)
    filters = {
        name: _ranked(Counter(text for _, text in field_values(encoded, name)))
        for name in filter_fields(encoded)
    }
    initials: Counter[str] = Counter()
    for envelope, _ in encoded.items:
        token = envelope.get("attributes", {}).get("tokens", {}).get("first_initial")
        if token is not None:
            initials[encoded.plaintext[("token:first_initial", token)]] += 1
    return Reference(filters=filters, initials=_ranked(initials))


def frequency_attack(values: Sequence[tuple[str, str]], ranking: Sequence[str]) -> dict[str, Any]:
    """Distinct filters per name, and re-identification by lining up frequency ranks."""
    by_name: dict[str, Counter[str]] = defaultdict(Counter)
    filter_counts: Counter[str] = Counter()
    for value, text in values:
        by_name[text][value] += 1
        filter_counts[value] += 1
    repeated = {name: c for name, c in by_name.items() if sum(c.values()) >= 2}
    distinct = statistics.mean(len(c) for c in repeated.values()) if repeated else 0.0
    modal = sum(c.most_common(1)[0][1] for c in repeated.values())
    records = sum(sum(c.values()) for c in repeated.values())
    plain_of = {value: text for value, text in values}
    ordered = [v for v, _ in sorted(filter_counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    out: dict[str, Any] = {
        "names_with_two_or_more_records": len(repeated),
        "distinct_filters_per_name": round(distinct, 3),
        "share_of_records_with_the_modal_filter_of_their_name": round(modal / records, 4)
        if records
        else None,
    }
    out["distinct_values"] = len(by_name)
    for k in (10, 20, None):
        guesses = list(zip(ordered[:k], ranking[:k], strict=False))
        right = [value for value, name in guesses if plain_of[value] == name]
        label = f"top{k}" if k else "all"
        out[f"{label}_filters_reidentified"] = len(right)
        out[f"{label}_records_reidentified_share"] = round(
            sum(filter_counts[v] for v in right) / len(values), 4
        )
    return out


def initial_token_attack(encoded: Encoded, ranking: Sequence[str]) -> dict[str, Any]:
    """First-initial tokens lined up, by frequency, with the initials' public frequencies."""
    tokens: Counter[str] = Counter()
    for envelope, _ in encoded.items:
        token = envelope.get("attributes", {}).get("tokens", {}).get("first_initial")
        if token is not None:
            tokens[token] += 1
    ordered = [t for t, _ in sorted(tokens.items(), key=lambda kv: (-kv[1], kv[0]))]
    right = sum(
        tokens[token]
        for token, letter in zip(ordered, ranking, strict=False)
        if encoded.plaintext[("token:first_initial", token)] == letter
    )
    return {
        "distinct_tokens": len(tokens),
        "records_reidentified_share": round(right / sum(tokens.values()), 4),
    }


def pattern_mining(values: Sequence[tuple[str, str]], q: int) -> dict[str, Any]:
    """Best single-bit precision for each frequent q-gram (an upper bound for the attack)."""
    if len(values) < MIN_SUPPORT:
        return {}
    bits = _bits([v for v, _ in values])
    gram_sets = [qgrams(text, q) for _, text in values]
    support = Counter(g for grams in gram_sets for g in grams)
    frequent = sorted(g for g, n in support.items() if n >= MIN_SUPPORT)
    index = {g: i for i, g in enumerate(frequent)}
    present = np.zeros((len(values), len(frequent)), dtype=np.float32)
    for row, grams in enumerate(gram_sets):
        for g in grams:
            if g in index:
                present[row, index[g]] = 1.0
    both = present.T @ bits.astype(np.float32)  # (grams, bits)
    bit_counts = bits.sum(axis=0).astype(np.float32)
    gram_counts = present.sum(axis=0)[:, None]
    precision = np.divide(both, bit_counts[None, :], out=np.zeros_like(both), where=bit_counts > 0)
    recall = both / gram_counts
    best = np.where(recall >= 0.5, precision, 0.0).max(axis=1)
    return {
        "records": len(values),
        "frequent_qgrams": len(frequent),
        "mean_best_bit_precision": round(float(best.mean()), 4),
        "qgrams_with_a_bit_of_precision_0.9": round(float((best >= 0.9).mean()), 4),
    }


def similarity_preservation(values: Sequence[tuple[str, str]], q: int, rng: random.Random) -> float:
    """Pearson correlation of filter Dice and q-gram Dice over random pairs of distinct values."""
    distinct = sorted(set(values))
    if len(distinct) < 3:
        return float("nan")
    bits = _bits([v for v, _ in distinct])
    grams = [qgrams(text, q) for _, text in distinct]
    pairs = [tuple(rng.sample(range(len(distinct)), 2)) for _ in range(PAIRS)]
    left = np.array([a for a, _ in pairs])
    right = np.array([b for _, b in pairs])
    common = (bits[left] & bits[right]).sum(axis=1)
    filter_dice = 2 * common / (bits[left].sum(axis=1) + bits[right].sum(axis=1))
    gram_dice = np.array(
        [2 * len(grams[a] & grams[b]) / (len(grams[a]) + len(grams[b])) for a, b in pairs]
    )
    return round(float(np.corrcoef(filter_dice, gram_dice)[0, 1]), 4)


def variant_levels(setting: Setting, secret: bytes, surnames: Sequence[str]) -> dict[str, Any]:
    """How often typical variants still reach the similar levels of their comparison.

    Birth dates with day and month swapped (every such date 1940-2004) against the first
    threshold of the birth-date filter level; one keyboard typo in each surname (five per
    name) against the surname thresholds. These are the pairs that hardening moves down.
    """
    p = Pseudonymiser(secret, "k1", setting.specs())
    birth = next(c for c in COMPARISONS["person"] if c.name == "birth_date")
    surname = next(c for c in COMPARISONS["person"] if c.name == "surname")
    swapped: list[float] = []
    day = date(1940, 1, 1)
    while day < date(2005, 1, 1):
        other = swap_day_month(day)
        if other is not None:
            swapped.append(
                dice(
                    p.bloom("birth_date", day.strftime("%d%m%Y")),
                    p.bloom("birth_date", other.strftime("%d%m%Y")),
                )
            )
        day += timedelta(days=1)
    rng = random.Random(11)
    typos: list[float] = []
    for name in surnames:
        for _ in range(5):
            changed = typo(name, rng)
            if changed != name:
                typos.append(dice(p.bloom("surname", name), p.bloom("surname", changed)))
    out: dict[str, Any] = {
        f"birth_date_day_month_swapped_dice>={t:g}": round(
            float(np.mean([d >= t for d in swapped])), 4
        )
        for t in birth.thresholds  # type: ignore[attr-defined]
    }
    for t in surname.thresholds:  # type: ignore[attr-defined]
        out[f"surname_typo_dice>={t:g}"] = round(float(np.mean([d >= t for d in typos])), 4)
    return out


# -- one setting -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    setting: Setting
    runs: list[dict[str, Any]] = field(default_factory=list)

    def mean(self, *path: str) -> float:
        values = [_get(run, path) for run in self.runs]
        return statistics.mean(values)

    def spread(self, *path: str) -> float:
        values = [_get(run, path) for run in self.runs]
        return max(values) - min(values)


def _get(data: dict[str, Any], path: Iterable[str]) -> float:
    for key in path:
        data = data[key]
    return float(data)  # type: ignore[arg-type]


def run_setting(
    setting: Setting,
    secret: bytes,
    files: Sequence[Any],
    truth: Clustering,
    reference: Reference,
    work: Path,
) -> dict[str, Any]:
    timings = Timings()
    with timings.stage("encode"):
        encoded = encode_files(files, RecordingPseudonymiser(secret, "k1", setting.specs()))
    with timings.stage("land and link"):
        predicted = link(encoded.items, work)
    overall = evaluate(predicted, truth)
    by_type = evaluate_by_type(predicted, truth)
    rng = random.Random(7)
    with timings.stage("attack statistics"):
        attacks: dict[str, Any] = {
            "frequency": {},
            "frequency_first_initial_token": initial_token_attack(encoded, reference.initials),
            "pattern_mining": {},
            "similarity_preservation": {},
        }
        for name in filter_fields(encoded):
            values = field_values(encoded, name)
            q = BASE_SPECS[name].q
            attacks["frequency"][name] = frequency_attack(values, reference.filters.get(name, []))
            attacks["pattern_mining"][name] = pattern_mining(values, q)
            attacks["similarity_preservation"][name] = similarity_preservation(values, q, rng)
        levels = variant_levels(setting, secret, reference.filters["surname"])
    return {
        "records": len(encoded.items),
        "rejected_at_partner": encoded.rejected,
        "linkage": {
            "precision": overall.precision,
            "recall": overall.recall,
            "f1": overall.f1,
            "person_f1": by_type["person"].f1,
            "company_f1": by_type["company"].f1,
            "address_f1": by_type["address"].f1,
        },
        "variant_levels": levels,
        "attacks": attacks,
        "seconds": timings.seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--reference-subjects",
        type=int,
        default=10_000,
        help="Size of the population the attacker's frequency statistics come from.",
    )
    parser.add_argument("--repeats", type=int, default=3, help="Secrets per setting.")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR / "hardening_cost.json")
    args = parser.parse_args(argv)
    # Wide enough for the tables when the output goes to a file.
    out = Console(width=max(Console().width, 150))
    secrets_used = [secrets.token_bytes(32) for _ in range(args.repeats)]
    outcomes = [Outcome(s) for s in SETTINGS]

    with tempfile.TemporaryDirectory(prefix="riec-hardening-") as tmp:
        data = Path(tmp) / "data"
        manifest = generate_dataset(data, n_subjects=args.subjects, seed=args.seed)
        truth = read_truth(manifest.truth_path)
        other = generate_dataset(Path(tmp) / "reference", n_subjects=args.reference_subjects,
                                 seed=args.seed + 1)  # fmt: skip
        reference = reference_statistics(other.files)
        for repeat, secret in enumerate(secrets_used):
            for outcome in outcomes:
                work = Path(tmp) / f"run-{repeat}-{outcome.setting.label.replace(' ', '_')}"
                work.mkdir()
                result = run_setting(
                    outcome.setting, secret, manifest.files, truth, reference, work
                )
                outcome.runs.append(result)
                out.print(
                    f"[{repeat + 1}/{args.repeats}] {outcome.setting.label}: "
                    f"F1 {result['linkage']['f1']:.4f} "
                    f"(person {result['linkage']['person_f1']:.4f}) "
                    f"in {sum(result['seconds'].values()):.0f}s"
                )

    _report(out, outcomes, args)
    write_results(
        args.results,
        {
            "benchmark": "hardening_cost",
            "command": command_line(),
            "machine": machine(),
            "options": {
                "subjects": args.subjects,
                "seed": args.seed,
                "repeats": args.repeats,
                "reference_subjects": args.reference_subjects,
            },
            "settings": [
                {
                    "label": o.setting.label,
                    "flip_rate": o.setting.flip_rate,
                    "hashes_scale": o.setting.hashes_scale,
                    "hashes_per_field": {n: s.hashes for n, s in o.setting.specs().items()},
                    "runs": o.runs,
                }
                for o in outcomes
            ],
        },
    )
    out.print(f"reproduce: {command_line()}")
    out.print(f"results written to {args.results}")
    return 0


def _report(out: Console, outcomes: list[Outcome], args: argparse.Namespace) -> None:
    spread = f" ± half the range over {args.repeats} secrets" if args.repeats > 1 else ""
    print_table(
        out,
        f"Linkage quality, {args.subjects} subjects, seed {args.seed}: mean{spread}",
        ["setting", "precision", "recall", "F1", "person F1", "company F1", "address F1"],
        [
            [
                o.setting.label,
                f"{o.mean('linkage', 'precision'):.4f}",
                f"{o.mean('linkage', 'recall'):.4f}",
                f"{o.mean('linkage', 'f1'):.4f} ±{o.spread('linkage', 'f1') / 2:.4f}",
                f"{o.mean('linkage', 'person_f1'):.4f}",
                f"{o.mean('linkage', 'company_f1'):.4f}",
                f"{o.mean('linkage', 'address_f1'):.4f}",
            ]
            for o in outcomes
        ],
    )
    level_keys = list(outcomes[0].runs[0]["variant_levels"])
    print_table(
        out,
        "Variants that still reach a similar level (share of pairs)",
        ["setting", *(k.replace("_", " ") for k in level_keys)],
        [
            [o.setting.label, *(f"{o.mean('variant_levels', k):.1%}" for k in level_keys)]
            for o in outcomes
        ],
    )
    initials = ("attacks", "frequency_first_initial_token")
    frequency = outcomes[0].runs[0]["attacks"]["frequency"]
    print_table(
        out,
        f"Frequency attack by rank alignment, {outcomes[0].setting.label} (the same at every "
        f"setting: a value always gives the same filter); first-initial token: "
        f"{outcomes[0].mean(*initials, 'records_reidentified_share'):.1%} of records",
        [
            "filter",
            "distinct values",
            "filters per value",
            "top-10 filters re-identified",
            "records re-identified (top 20)",
            "records re-identified (all ranks)",
        ],
        [
            [
                name,
                f"{stats['distinct_values']}",
                f"{stats['distinct_filters_per_name']:.2f}",
                f"{stats['top10_filters_reidentified']} of 10",
                f"{stats['top20_records_reidentified_share']:.1%}",
                f"{stats['all_records_reidentified_share']:.1%}",
            ]
            for name, stats in frequency.items()
        ],
    )
    fields = list(outcomes[0].runs[0]["attacks"]["pattern_mining"])
    mining = ("attacks", "pattern_mining")
    print_table(
        out,
        "Pattern mining: mean best precision of 'bit set => q-gram present' over frequent "
        "q-grams (share of q-grams with a rule >= 0.9)",
        ["setting", *fields],
        [
            [
                o.setting.label,
                *(
                    f"{o.mean(*mining, name, 'mean_best_bit_precision'):.3f} "
                    f"({o.mean(*mining, name, 'qgrams_with_a_bit_of_precision_0.9'):.0%})"
                    for name in fields
                ),
            ]
            for o in outcomes
        ],
    )
    print_table(
        out,
        "Similarity preservation: correlation of filter Dice with q-gram Dice (random pairs)",
        ["setting", *fields],
        [
            [
                o.setting.label,
                *(f"{o.mean('attacks', 'similarity_preservation', n):.3f}" for n in fields),
            ]
            for o in outcomes
        ],
    )


if __name__ == "__main__":
    sys.exit(main())
