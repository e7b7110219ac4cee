"""The matching service's leak guard on envelopes that passed the schema."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from consumers.leak_guard import check_envelope
from contract import EnvelopeError

GOOD = json.loads(
    (Path(__file__).parents[1] / "integration" / "data" / "envelope_gemeente_x.json").read_text(
        encoding="utf-8"
    )
)


def test_a_clean_envelope_passes() -> None:
    check_envelope(json.loads(json.dumps(GOOD)))


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda d: d.update(partner_record_id="BSN-111222333"), "partner_record_id"),
        (lambda d: d.update(partner_record_id="NL91ABNA0417164300"), "partner_record_id"),
        (lambda d: d.update(batch_id="import-5038AB"), "batch_id"),
        (lambda d: d["signal"].update(code="jansen_melding"), "signal/code"),
        (lambda d: d["signal"].update(code="auto_xb1234"), "signal/code"),
        (lambda d: d["attributes"]["tokens"].update(visser="a" * 32), "field name"),
        (lambda d: d["attributes"]["filters"].update(surname="amFuc2Vu"), "filters/surname"),
    ],
)
def test_plaintext_is_refused_with_its_location(
    mutate: Callable[[dict[str, Any]], None], where: str
) -> None:
    envelope = json.loads(json.dumps(GOOD))
    mutate(envelope)
    with pytest.raises(EnvelopeError) as info:
        check_envelope(envelope)
    assert info.value.reason == "plaintext_identifier"
    assert where in info.value.detail
    for value in ("111222333", "NL91ABNA0417164300", "5038AB", "jansen", "visser"):
        assert value not in info.value.detail
