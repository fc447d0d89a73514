from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.rules import InvalidIdNumber, age_on, birth_date_of, mask_id_number, normalise_id_number
from app.rules.idnumber import check_character

# The published example number from GB 11643-1999.
STANDARD_EXAMPLE = "11010519491231002X"


def test_the_standard_example_is_valid_and_masks() -> None:
    assert normalise_id_number(STANDARD_EXAMPLE) == STANDARD_EXAMPLE
    assert normalise_id_number(STANDARD_EXAMPLE.lower()) == STANDARD_EXAMPLE
    assert birth_date_of(STANDARD_EXAMPLE) == date(1949, 12, 31)
    assert mask_id_number(STANDARD_EXAMPLE) == "110105********002X"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("11010519491231002", "18 characters"),
        ("110105194912310021", "check character"),
        ("11010519490231002X", "birth date"),  # 31 February... 1949-02-31
        ("1101051949123100AX", "digits"),
        ("11010518991231002X", "1900"),
        ("１１０１０５１９４９１２３１００２X", "digits"),  # full-width digits
    ],
)
def test_invalid_numbers_say_why(text: str, why: str) -> None:
    with pytest.raises(InvalidIdNumber, match=why):
        normalise_id_number(text)


@given(
    born=st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31)),
    region=st.integers(110000, 659999),
    serial=st.integers(0, 999),
)
def test_every_generated_number_validates_and_any_other_check_character_fails(
    born: date, region: int, serial: int
) -> None:
    body = f"{region}{born:%Y%m%d}{serial:03d}"
    number = body + check_character(body)
    assert normalise_id_number(number) == number
    assert birth_date_of(number) == born
    for wrong in "0123456789X":
        if wrong != number[-1]:
            with pytest.raises(InvalidIdNumber):
                normalise_id_number(body + wrong)


def test_age_counts_completed_years() -> None:
    born = date(2008, 12, 15)
    assert age_on(born, date(2026, 12, 14)) == 17
    assert age_on(born, date(2026, 12, 15)) == 18
    leap = date(2008, 2, 29)
    assert age_on(leap, date(2026, 2, 28)) == 17
    assert age_on(leap, date(2026, 3, 1)) == 18
