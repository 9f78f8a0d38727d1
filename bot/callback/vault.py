"""Encrypts SIP passwords at rest with RINGBOT_SECRET_KEY (Fernet: AES-128-CBC + HMAC-SHA256).

The key is either a Fernet key (urlsafe base64 of 32 bytes, used as is) or a passphrase of at least 16
characters, stretched into a Fernet key with scrypt and a fixed application salt (what is accepted:
`bot.config.secret_key_problem`). The salt is fixed so the same passphrase opens the same database after a
restart; scrypt makes guessing a passphrase from a stolen database slow.

During a key rotation RINGBOT_SECRET_KEY_OLD still opens what it sealed (MultiFernet: the new key first), while
everything is sealed with the new key; `Vault.rotate` re-seals one password with the new key.
"""

from __future__ import annotations

import base64
from enum import StrEnum

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from bot.config import fernet_key, secret_key_problem

_SALT = b"ringbot/vault/sip-password/v1"  # fixed on purpose (see the module docstring); never change it
_SCRYPT = {"length": 32, "n": 2**14, "r": 8, "p": 1}

HOW_TO_MAKE_A_KEY = (
    "SIP passwords are stored encrypted, so linking needs RINGBOT_SECRET_KEY. Make one with\n"
    '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`\n'
    "put it in RINGBOT_SECRET_KEY (environment or .env) and restart ringbot."
)
WRONG_KEY = "the stored SIP password cannot be decrypted with this RINGBOT_SECRET_KEY; relink with /ring link"


class VaultError(Exception):
    """A stored secret cannot be read (wrong or changed RINGBOT_SECRET_KEY, or a damaged token)."""


class VaultUnavailable(VaultError):
    """There is no usable RINGBOT_SECRET_KEY; str() says how to make one."""


def key_problem(key: str | None) -> str | None:
    """Why `key` cannot be RINGBOT_SECRET_KEY (one sentence), or None when it can; empty means "not configured"."""
    if not key:
        return "RINGBOT_SECRET_KEY is not set"
    return secret_key_problem("RINGBOT_SECRET_KEY", key)


class Sealer(StrEnum):
    """Which key opens a stored password."""

    NEW = "new"  # RINGBOT_SECRET_KEY
    OLD = "old"  # only RINGBOT_SECRET_KEY_OLD: `ringbot rotate-key` re-seals it with the new key
    NEITHER = "neither"  # another key, or a damaged token: its owner links again


def derive_key(passphrase: str) -> bytes:
    """A Fernet key from a passphrase: scrypt(passphrase, fixed app salt), urlsafe base64."""
    return base64.urlsafe_b64encode(Scrypt(salt=_SALT, **_SCRYPT).derive(passphrase.encode()))


def _fernet(key: str) -> Fernet:
    return Fernet(fernet_key(key) or derive_key(key))


class Vault:
    """encrypt/decrypt for SIP passwords. Without a usable key, `available` is False and encrypt raises
    VaultUnavailable (ringbot still runs; only linking is refused). With `old_key` (RINGBOT_SECRET_KEY_OLD) too,
    passwords sealed with either key open, and every password is sealed with the new one."""

    def __init__(self, key: str | None, old_key: str | None = None) -> None:
        self.problem = key_problem(key)
        self._new: Fernet | None = None
        self._old: Fernet | None = None
        if key and self.problem is None:
            self._new = _fernet(key)
            if old_key:
                problem = secret_key_problem("RINGBOT_SECRET_KEY_OLD", old_key, old=True)
                if problem:  # bot/config.py refuses it at start; a caller that skipped it learns it here
                    raise ValueError(problem)
                self._old = _fernet(old_key)
        keys = [f for f in (self._new, self._old) if f is not None]
        self._fernet: MultiFernet | None = MultiFernet(keys) if keys else None

    @property
    def available(self) -> bool:
        return self._fernet is not None

    @property
    def has_old_key(self) -> bool:
        return self._old is not None

    def __repr__(self) -> str:  # never the key, not even a prefix
        return f"Vault(available={self.available}, old_key={self.has_old_key})"

    def _require(self) -> MultiFernet:
        if self._fernet is None:
            reason = self.problem or "RINGBOT_SECRET_KEY is not set"
            raise VaultUnavailable(f"{reason}. {HOW_TO_MAKE_A_KEY}")
        return self._fernet

    def encrypt(self, plaintext: str) -> str:
        """A Fernet token (ASCII) for `plaintext`, sealed with the new key; a fresh IV each time, so equal
        passwords differ."""
        return self._require().encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        """The plaintext for a token made by `encrypt` with the new or the old key; VaultError otherwise."""
        fernet = self._require()
        try:
            return fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError, ValueError):
            raise VaultError(WRONG_KEY) from None

    def sealer(self, token: str) -> Sealer:
        """Which key opens `token`: the new one, only the old one, or neither (VaultUnavailable without a key)."""
        self._require()
        for fernet, sealer in ((self._new, Sealer.NEW), (self._old, Sealer.OLD)):
            if fernet is None:
                continue
            try:
                fernet.decrypt(token.encode("ascii"))
            except (InvalidToken, UnicodeError, ValueError):
                continue
            return sealer
        return Sealer.NEITHER

    def rotate(self, token: str) -> str:
        """`token` sealed again with the new key (the same password inside); VaultError when no key opens it."""
        fernet = self._require()
        try:
            return fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError, ValueError):
            raise VaultError(WRONG_KEY) from None
