"""Masking ID numbers embedded in certificate numbers and in free text."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.rules import embeds_another_person, mask_certificate_number, mask_id_numbers_in
from tests.support import id_number

ID = id_number(date(1990, 5, 17), 21)


def test_a_special_operations_number_is_masked_like_the_id_number_it_embeds() -> None:
    assert mask_certificate_number("T" + ID) == "T" + ID[:6] + "********" + ID[14:]
    assert mask_certificate_number("MOHURD-2026-000123") == "MOHURD-2026-000123"
    assert ID not in mask_id_numbers_in(f'{{"certificate_number": "T{ID}", "n": 1}}')


@given(
    born=st.dates(date(1930, 1, 1), date(2010, 12, 31)),
    serial=st.integers(1, 999),
    prefix=st.text("TZ-0", max_size=3),
    suffix=st.text("-AB", max_size=3),
)
def test_no_embedded_id_number_survives_masking(
    born: date, serial: int, prefix: str, suffix: str
) -> None:
    number = id_number(born, serial)
    text = prefix + number + suffix
    for masked in (mask_certificate_number(text), mask_id_numbers_in(text)):
        assert number not in masked and len(masked) == len(text)
        assert masked.startswith(prefix) and masked.endswith(suffix)


def test_an_invalid_run_is_left_in_free_text_but_masked_in_a_certificate_number() -> None:
    bogus = (date(2026, 1, 1) - timedelta(days=1)).strftime("110105%Y%m%d") + "0000"
    assert mask_id_numbers_in(bogus) == bogus
    assert mask_certificate_number(bogus) == bogus[:6] + "********" + bogus[14:]


@given(
    born=st.dates(date(1930, 1, 1), date(2010, 12, 31)),
    serial=st.integers(1, 999),
    digits=st.text("0123456789", min_size=1, max_size=6),
)
def test_digits_before_the_id_number_do_not_move_the_mask_off_its_birth_date(
    born: date, serial: int, digits: str
) -> None:
    number = id_number(born, serial)
    text = "T" + digits + number
    masked = mask_certificate_number(text)
    assert len(masked) == len(text) and masked.endswith(number[14:])
    start = len(text) - 18  # the ID number's own birth date is masked (a shifted window that
    assert masked[start + 6 : start + 14] == "********"  # also reads as one may mask more)


def test_a_number_embeds_another_person_only_when_none_of_its_id_numbers_is_the_holders() -> None:
    other = id_number(date(1990, 5, 17), 22)
    shifted = id_number(date(1990, 5, 10), 100)  # + "06" also reads as 010519 born 9005-10-10
    assert embeds_another_person("T" + other, lambda n: n == ID)
    assert not embeds_another_person("T" + ID, lambda n: n == ID)
    assert not embeds_another_person(f"T{shifted}06", lambda n: n == shifted)
    assert not embeds_another_person("MOHURD-2026-000123", lambda n: False)
