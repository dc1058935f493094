import pytest

from sheet.refs import expand_range, parse_ref, ref_name
from sheet.workbook import CycleError, Sheet


def sheet_with(**cells):
    sheet = Sheet()
    for ref, content in cells.items():
        sheet.set(ref, content)
    return sheet


def test_chain_recalculated():
    sheet = sheet_with(A1=1, B1="=A1+1", C1="=B1*2", D1="=C1+B1")
    sheet.set("A1", 10)
    assert [sheet.get(ref) for ref in ("B1", "C1", "D1")] == [11, 22, 33]


def test_diamond_recalculated_in_order():
    sheet = sheet_with(A1=1, E1="=D1+A1", D1="=B1+C1", B1="=A1*2", C1="=A1*3")
    assert sheet.get("E1") == 6
    sheet.set("A1", 2)
    assert sheet.get("D1") == 10
    assert sheet.get("E1") == 12


def test_range_sum_feeds_later_formula():
    sheet = sheet_with(A1=1, A2=2, A3=3, B1="=SUM(A1:A3)", C1="=B1/2", D1="=C1-B1")
    sheet.set("A2", 20)
    assert sheet.get("B1") == 24
    assert sheet.get("C1") == 12
    assert sheet.get("D1") == -12


def test_two_letter_columns():
    assert parse_ref("AA1") == (26, 0)
    assert parse_ref("az3") == (51, 2)
    assert parse_ref("BA10") == (52, 9)
    assert ref_name(26, 0) == "AA1"
    sheet = sheet_with(A1=1, AA1=7, B1="=AA1*2")
    assert sheet.get("A1") == 1
    assert sheet.get("AA1") == 7
    assert sheet.get("B1") == 14


def test_reversed_range():
    assert expand_range("B2:A1") == ["A1", "B1", "A2", "B2"]
    sheet = sheet_with(B1=1, B2=2, B3=4, C1="=SUM(B3:B1)")
    assert sheet.get("C1") == 7


def test_self_reference_rejected():
    sheet = sheet_with(A1=3)
    with pytest.raises(CycleError):
        sheet.set("A1", "=A1+1")
    assert sheet.get("A1") == 3


def test_indirect_cycle_rejected_sheet_unchanged():
    sheet = sheet_with(A1=5, B1="=A1", C1="=B1*2")
    with pytest.raises(CycleError):
        sheet.set("A1", "=C1")
    assert sheet.get("A1") == 5
    sheet.set("A1", 6)
    assert sheet.get("C1") == 12


def test_cycle_through_range_rejected():
    sheet = sheet_with(A1="=SUM(A2:A4)", A2=1)
    with pytest.raises(CycleError):
        sheet.set("A3", "=A1+1")
    assert sheet.get("A1") == 1


def test_replaced_formula_drops_old_inputs():
    sheet = sheet_with(A1=1, C1=5, B1="=A1", D1="=B1+1")
    sheet.set("B1", "=C1")
    sheet.set("A1", 100)
    assert sheet.get("B1") == 5
    sheet.set("C1", 8)
    assert sheet.get("D1") == 9


def test_formula_entered_before_inputs():
    sheet = sheet_with(C1="=A1+B1", D1="=C1*C1")
    sheet.set("A1", 2)
    sheet.set("B1", 3)
    assert sheet.get("C1") == 5
    assert sheet.get("D1") == 25
