"""The EmoMAS CSV importer on small fixture files carrying the published files' defects."""
from __future__ import annotations

from pathlib import Path

import pytest

from envs import COUNTERPART, FOCAL, CSVImportError, load_emomas_csv
from envs.emomas import clock_to_minutes_past_9pm

FIXTURES = Path(__file__).parent / "fixtures"


def test_hospital_unquoted_commas_are_rebuilt_and_bad_rows_named():
    with pytest.raises(CSVImportError) as err:
        load_emomas_csv(FIXTURES / "hospital_defective.csv", "hospital")
    assert [line for line, _ in err.value.failures] == [6]
    assert "Urgent-ish" in str(err.value)
    with pytest.warns(UserWarning, match="line 6"):
        scenarios = load_emomas_csv(FIXTURES / "hospital_defective.csv", "hospital", on_error="warn")
    assert len(scenarios) == 4
    first = scenarios[0]
    assert first.context["condition"] == "Severe coronary artery disease, diabetes"
    assert first.context["surgery"] == "CABG" and first.context["urgency"] == "High"
    assert first.target == {FOCAL: 45, COUNTERPART: 15}
    third = scenarios[2]  # Low urgency: the scheduler's target is 30 days past the waitlist
    assert third.target == {FOCAL: 150, COUNTERPART: 30}


def test_rescue_crlf_and_curly_quotes():
    with pytest.warns(UserWarning, match="Variable"):
        scenarios = load_emomas_csv(FIXTURES / "rescue_defective.csv", "rescue", on_error="warn")
    assert len(scenarios) == 3
    assert scenarios[0].context["critical_needs"] == "Water, painkillers"
    assert scenarios[0].target == {FOCAL: 120, COUNTERPART: 90}
    assert scenarios[1].target == {FOCAL: 90, COUNTERPART: 45}


def test_sleep_clock_strings_become_minutes_past_9pm():
    with pytest.raises(CSVImportError, match="around one"):
        load_emomas_csv(FIXTURES / "sleep_defective.csv", "sleep")
    with pytest.warns(UserWarning):
        scenarios = load_emomas_csv(FIXTURES / "sleep_defective.csv", "sleep", on_error="warn")
    assert [s.target[FOCAL] for s in scenarios] == [90, 0, -15]
    assert [s.target[COUNTERPART] for s in scenarios] == [300, 150, 210]
    assert scenarios[0].context["background"] == "High achiever"


def test_quoted_credit_file_imports_every_row():
    scenarios = load_emomas_csv(FIXTURES / "credit_small.csv", "credit")
    assert [s.target[FOCAL] for s in scenarios] == [12, 14]
    assert scenarios[0].context["outstanding_balance"] == 15700
    assert all(s.reservation[FOCAL] > s.target[FOCAL] for s in scenarios)


@pytest.mark.parametrize("text, minutes", [("10:30 PM", 90), ("2:00 AM", 300), ("8:45 PM", -15),
                                           ("12:30 AM", 210), ("11 pm", 120), ("9:00PM", 0)])
def test_clock_parser(text, minutes):
    assert clock_to_minutes_past_9pm(text) == minutes


def test_wrong_header_is_named(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(CSVImportError, match="header"):
        load_emomas_csv(path, "credit")
