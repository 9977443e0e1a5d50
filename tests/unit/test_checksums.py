"""Check characters of the USCC (GB 32100-2015) and the citizen ID number (GB 11643-1999).

The expected check characters come from a small reference implementation written here
from the text of the two standards, not from `hub.records._checks`.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.records import (
    citizen_id_check_char,
    citizen_id_problem,
    uscc_check_char,
    uscc_problem,
)

# ------------------------------------------------------------ reference implementations

REF_USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, S, V, Z
REF_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
REF_ID_CHECK = "10X98765432"


def ref_uscc_check(first17: str) -> str:
    """GB 32100: weights 3^(i-1) mod 31, check = (31 - Σ mod 31) mod 31."""
    assert len(first17) == 17
    total = 0
    for i, char in enumerate(first17, start=1):
        total += REF_USCC_CHARSET.index(char) * (3 ** (i - 1) % 31)
    return REF_USCC_CHARSET[(31 - total % 31) % 31]


def ref_id_check(first17: str) -> str:
    """GB 11643 (ISO 7064 MOD 11-2): check = "10X98765432"[Σ(digit × weight) mod 11]."""
    assert len(first17) == 17
    total = sum(int(d) * w for d, w in zip(first17, REF_ID_WEIGHTS, strict=True))
    return REF_ID_CHECK[total % 11]


def test_reference_implementations_agree_with_hand_computed_values() -> None:
    # 3^(i-1) mod 31 for i = 1..17, as printed in GB 32100 table 3.
    weights = [3 ** (i - 1) % 31 for i in range(1, 18)]
    assert weights == [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    # GB 11643's own worked example: 11010519491231002 -> X.
    assert ref_id_check("11010519491231002") == "X"
    assert ref_uscc_check("91350100M000100Y4") == "3"


# ------------------------------------------------------------------------- USCC

PUBLISHED_USCC = [
    "91350100M000100Y43",  # GB 32100 example
]

# Real-format codes: registration authority + entity type, 6-digit region, 9-char org code.
USCC_PREFIXES = [
    "91420106MA4K0001X",  # enterprise, Wuchang district
    "92420106MA4KLLLL0",  # individual business
    "11420106010000000",  # government body
    "52420106MJY000001",  # social organisation
    "Y1420106000000000",  # other
    "91110000100000000",
    "9142010630000000Y",
]


@pytest.mark.parametrize("code", PUBLISHED_USCC)
def test_published_uscc_examples_are_valid(code: str) -> None:
    assert ref_uscc_check(code[:17]) == code[17]
    assert uscc_check_char(code[:17]) == code[17]
    assert uscc_problem(code) is None


@pytest.mark.parametrize("prefix", USCC_PREFIXES)
def test_uscc_with_computed_check_char_is_valid(prefix: str) -> None:
    check = ref_uscc_check(prefix)
    assert uscc_check_char(prefix) == check
    assert uscc_problem(prefix + check) is None


@pytest.mark.parametrize("prefix", [*USCC_PREFIXES, PUBLISHED_USCC[0][:17]])
def test_uscc_wrong_only_in_check_char_fails_checksum(prefix: str) -> None:
    right = ref_uscc_check(prefix)
    wrong = [c for c in REF_USCC_CHARSET if c != right]
    assert len(wrong) == 30
    for char in wrong:
        assert uscc_problem(prefix + char) == "checksum", prefix + char


@pytest.mark.parametrize(
    "code",
    [
        "",
        "91350100M000100Y4",  # 17 characters
        "91350100M000100Y433",  # 19 characters
        "91350100m000100y43",  # lower case
        "91350100M000100y43",  # one lower-case letter
        " 91350100M000100Y4",  # leading blank, 18 chars
        "91350100I000100Y43",  # I is not in the charset
        "91350100O000100Y43",  # O
        "91350100S000100Y43",  # S
        "91350100V000100Y43",  # V
        "91350100Z000100Y43",  # Z
        "91350100M000100Y4Z",  # Z as the check character
        "913501A0M000100Y43",  # letter in the 6-digit region code
        "91350100M00010-Y43",
        "９1350100M000100Y43",  # full-width digit as registration authority
    ],
)
def test_uscc_of_wrong_shape_fails_shape(code: str) -> None:
    assert uscc_problem(code) == "shape"


@pytest.mark.parametrize(
    "code",
    [
        "913５0100M000100Y43",  # full-width digit in the 6-digit region code
        "9135\u06630100M000100Y4",  # Arabic-Indic digit in the region code
    ],
)
def test_uscc_with_non_ascii_digits_fails_shape_instead_of_crashing(code: str) -> None:
    # GB 32100 codes are ASCII. `\d` in the shape regex also matches other Unicode digits,
    # which then crash the check-character lookup with KeyError.
    assert uscc_problem(code) == "shape"


USCC_BODY = st.sampled_from(REF_USCC_CHARSET)
USCC_PREFIX = st.builds(
    lambda head, region, org: head + region + org,
    st.text(USCC_BODY, min_size=2, max_size=2),
    st.text(st.sampled_from("0123456789"), min_size=6, max_size=6),
    st.text(USCC_BODY, min_size=9, max_size=9),
)


@settings(max_examples=200, deadline=None)
@given(prefix=USCC_PREFIX, other=USCC_BODY)
def test_uscc_property_only_the_computed_check_char_is_valid(prefix: str, other: str) -> None:
    check = ref_uscc_check(prefix)
    assert uscc_check_char(prefix) == check
    assert uscc_problem(prefix + check) is None
    if other != check:
        assert uscc_problem(prefix + other) == "checksum"


# ------------------------------------------------------------------- citizen ID

PUBLISHED_IDS = [
    "11010519491231002X",  # GB 11643 example (Beijing Chaoyang, born 1949-12-31)
]

ID_PREFIXES = [
    "42010619900101123",  # Wuchang, 1990-01-01
    "42010620000229001",  # leap day 2000
    "42010619000101000",  # earliest accepted year
    "44030419851120551",
    "51010720130615002",
    "42011119781231999",
]


@pytest.mark.parametrize("number", PUBLISHED_IDS)
def test_published_citizen_ids_are_valid(number: str) -> None:
    assert ref_id_check(number[:17]) == number[17]
    assert citizen_id_check_char(number[:17]) == number[17]
    assert citizen_id_problem(number) is None


@pytest.mark.parametrize("prefix", ID_PREFIXES)
def test_citizen_id_with_computed_check_char_is_valid(prefix: str) -> None:
    check = ref_id_check(prefix)
    assert citizen_id_check_char(prefix) == check
    assert citizen_id_problem(prefix + check) is None


@pytest.mark.parametrize("prefix", [*ID_PREFIXES, PUBLISHED_IDS[0][:17]])
def test_citizen_id_wrong_only_in_check_char_fails_checksum(prefix: str) -> None:
    right = ref_id_check(prefix)
    wrong = [c for c in "0123456789X" if c != right]
    assert len(wrong) == 10
    for char in wrong:
        assert citizen_id_problem(prefix + char) == "checksum", prefix + char


@pytest.mark.parametrize(
    "number",
    [
        "",
        "11010519491231002",  # 17 characters
        "11010519491231002X1",  # 19 characters
        "110105194912310",  # old 15-digit number
        "11010519491231002x",  # lower-case x
        "1101051949123100XX",  # X before the last position
        "11010519491231002Y",
        "A1010519491231002X",
        "11010519491231002 ",
    ],
)
def test_citizen_id_of_wrong_shape_fails_shape(number: str) -> None:
    assert citizen_id_problem(number) == "shape"


@pytest.mark.parametrize(
    "number",
    [
        "１1010519491231002X",  # full-width first digit, otherwise the published example
        "42010619900101123\uff11",  # full-width check digit
        "4201061990\u0660\u0661011231",  # Arabic-Indic digits in the birth month
    ],
)
def test_citizen_id_with_non_ascii_digits_fails_shape(number: str) -> None:
    # GB 11643 numbers are ASCII digits; `\d` also matches full-width and other digits.
    assert citizen_id_problem(number) == "shape"


def _with_birth(birth: str) -> str:
    """A number born on birth (YYYYMMDD), with a correct check character."""
    prefix = "420106" + birth + "123"
    return prefix + ref_id_check(prefix)


@pytest.mark.parametrize(
    "birth",
    [
        "19901301",  # month 13
        "19900001",  # month 0
        "19900230",  # 30 February
        "19900229",  # 29 February of a common year
        "19000229",  # 1900 was not a leap year
        "19900431",  # 31 April
        "19900100",  # day 0
        "18500101",  # year 1850
        "18991231",  # the day before 1900
        "00000000",
    ],
)
def test_citizen_id_with_impossible_birth_date_fails_birth_date(birth: str) -> None:
    assert citizen_id_problem(_with_birth(birth)) == "birth_date"


def test_citizen_id_born_in_the_future_fails_birth_date() -> None:
    tomorrow = date.today() + timedelta(days=1)
    assert citizen_id_problem(_with_birth(tomorrow.strftime("%Y%m%d"))) == "birth_date"
    assert citizen_id_problem(_with_birth("20990101")) == "birth_date"
    # Relative to an explicit day too: born the day after `today` is refused, on it accepted.
    assert citizen_id_problem(_with_birth("20200102"), today=date(2020, 1, 1)) == "birth_date"
    assert citizen_id_problem(_with_birth("20200101"), today=date(2020, 1, 1)) is None


def test_birth_date_is_checked_before_the_check_char() -> None:
    # A number with both an impossible date and a wrong check char reports the date.
    prefix = "42010619901301123"
    wrong = next(c for c in "0123456789X" if c != ref_id_check(prefix))
    assert citizen_id_problem(prefix + wrong) == "birth_date"


ID_PREFIX = st.builds(
    lambda region, born, serial: region + born.strftime("%Y%m%d") + serial,
    st.text(st.sampled_from("0123456789"), min_size=6, max_size=6),
    st.dates(min_value=date(1900, 1, 1), max_value=date.today()),
    st.text(st.sampled_from("0123456789"), min_size=3, max_size=3),
)


@settings(max_examples=200, deadline=None)
@given(prefix=ID_PREFIX, other=st.sampled_from("0123456789X"))
def test_citizen_id_property_only_the_computed_check_char_is_valid(prefix: str, other: str) -> None:
    check = ref_id_check(prefix)
    assert citizen_id_check_char(prefix) == check
    assert citizen_id_problem(prefix + check) is None
    if other != check:
        assert citizen_id_problem(prefix + other) == "checksum"
