"""Password policy and hashing (argon2id through argon2-cffi)."""

from __future__ import annotations

import re
import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from shebao.platform.errors import ErrorCode, ShebaoError

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
MIN_LENGTH, MAX_LENGTH = 8, 128

# A hash of a random password: verified against when the user does not exist, so that a login
# for an unknown user costs as much as one for a known user (no user enumeration by timing).
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def check_policy(password: str, field: str = "password") -> None:
    """At least 8 characters (at most 128), with letters and digits."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise ShebaoError.of(ErrorCode.PASSWORD_POLICY, field, rule=f"min_length:{MIN_LENGTH}")
    if len(password) > MAX_LENGTH:
        raise ShebaoError.of(ErrorCode.PASSWORD_POLICY, field, rule=f"max_length:{MAX_LENGTH}")
    if not re.search(r"[A-Za-z]", password) or not re.search(r"\d", password):
        raise ShebaoError.of(ErrorCode.PASSWORD_POLICY, field, rule="letters_and_digits")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def generate_password(length: int = 16) -> str:
    """A random password that satisfies the policy (for seeding and admin resets)."""
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if re.search(r"[A-Za-z]", candidate) and re.search(r"\d", candidate):
            return candidate
