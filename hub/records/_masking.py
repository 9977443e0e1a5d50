"""Masking of personal data 个人信息脱敏 for views that do not need it (docs/design.md §9)."""

from __future__ import annotations


def mask_name(name: str) -> str:
    """Keep the family name: 张三 -> 张*, 欧阳娜娜 -> 欧***."""
    name = name.strip()
    return name[:1] + "*" * max(len(name) - 1, 1) if name else name


def mask_phone(phone: str) -> str:
    """Keep the first three and last four digits: 13812345678 -> 138****5678."""
    digits = phone.strip()
    if len(digits) <= 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_citizen_id(number: str) -> str:
    """Keep the first three and last four characters: 420106199001011234 -> 420***********1234."""
    number = number.strip()
    if len(number) <= 7:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


def is_masked(value: str) -> bool:
    """True when value carries the mask character (already masked)."""
    return "*" in value
