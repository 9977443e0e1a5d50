"""Check-character algorithms of the codes the hub validates (docs/design.md §3).

- Unified social credit code 统一社会信用代码 (GB 32100-2015): 18 characters over the
  31-character set ``0-9ABCDEFGHJKLMNPQRTUWXY``; weights 3^(i-1) mod 31 for i = 1..17;
  check = (31 - Σ mod 31) mod 31.
- Citizen identity number 公民身份号码 (GB 11643-1999): 17 digits and a check character,
  ISO 7064 MOD 11-2 with weights 7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2 and check
  ``"10X98765432"[Σ mod 11]``; digits 7-14 are the birth date.
"""

from __future__ import annotations

import re
from datetime import date

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {char: index for index, char in enumerate(USCC_CHARSET)}
_USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]
USCC_SHAPE = "[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}"
_USCC_SHAPE = re.compile(USCC_SHAPE)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
CITIZEN_ID_SHAPE = "[0-9]{17}[0-9X]"
_ID_SHAPE = re.compile(CITIZEN_ID_SHAPE)


def uscc_check_char(first17: str) -> str:
    """The check character for the first 17 characters of a USCC."""
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def uscc_problem(code: str) -> str | None:
    """None when code is a valid USCC, else the rule it breaks: 'shape' or 'checksum'."""
    if not _USCC_SHAPE.fullmatch(code):
        return "shape"
    if uscc_check_char(code[:17]) != code[17]:
        return "checksum"
    return None


def citizen_id_check_char(first17: str) -> str:
    """The check character for the first 17 digits of a citizen identity number."""
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def citizen_id_birth_date(number: str) -> date | None:
    """The birth date encoded in digits 7-14, or None when it is not a calendar date."""
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def citizen_id_problem(number: str, today: date | None = None) -> str | None:
    """None when valid, else the rule broken: 'shape', 'birth_date' or 'checksum'.

    The birth date must be a real date, not in the future and not before 1900.
    """
    if not _ID_SHAPE.fullmatch(number):
        return "shape"
    born = citizen_id_birth_date(number)
    if born is None or born > (today or date.today()) or born.year < 1900:
        return "birth_date"
    if citizen_id_check_char(number[:17]) != number[17]:
        return "checksum"
    return None
