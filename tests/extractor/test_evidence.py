"""Evidence of a model's answer from where grounding found its values."""

from __future__ import annotations

from contracts import Evidence, Invoice
from services.extractor.evidence import located_evidence, unplaced_evidence
from services.extractor.grounding import Printed
from services.extractor.page_text import PageText


def test_found_values_carry_their_page_box_and_printed_characters() -> None:
    page = PageText.from_pieces(
        2, [[("Total", (0.1, 0.5, 0.2, 0.52)), ("€193,00", (0.6, 0.5, 0.7, 0.52))]]
    )
    start = page.text.index("193")

    evidence = located_evidence({"total": Printed(2, start, start + 6), "due_date": None}, [page])

    assert evidence == {"total": Evidence(page=2, bbox=(0.6, 0.5, 0.7, 0.52), text="193,00")}


def test_values_in_text_without_positions_have_no_box() -> None:
    page = PageText.unplaced(1, "Total 5.00")

    evidence = located_evidence({"total": Printed(1, 6, 10)}, [page])

    assert evidence == {"total": Evidence(page=1, bbox=None, text="5.00")}


def test_unplaced_evidence_is_every_printed_value_as_returned() -> None:
    invoice = Invoice.model_validate(
        {
            "document_type": "invoice",
            "total": "193.00",
            "invoice_date": "2024-03-15",
            "line_items": [{"description": "Widget", "amount": "1.50"}],
        }
    )

    assert unplaced_evidence(invoice, 1) == {
        "invoice_date": Evidence(page=1, bbox=None, text="2024-03-15"),
        "total": Evidence(page=1, bbox=None, text="193.00"),
        "line_items[0].description": Evidence(page=1, bbox=None, text="Widget"),
        "line_items[0].amount": Evidence(page=1, bbox=None, text="1.50"),
    }
