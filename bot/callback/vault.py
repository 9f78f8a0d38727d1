"""Encrypts SIP passwords at rest with RINGBOT_SECRET_KEY (Fernet: AES-128-CBC + HMAC-SHA256).

The key is either a Fernet key (urlsafe base64 of 32 bytes, used as is) or a passphrase of at least
16 characters, stretched into a Fernet key with scrypt and a fixed application salt. The salt is fixed
so the same passphrase opens the same database after a restart; scrypt makes guessing a passphrase
from a stolen database slow.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MIN_PASSPHRASE = 16
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
    """Why `key` cannot be used (one sentence), or None when it can; empty means "not configured"."""
    if not key:
        return "RINGBOT_SECRET_KEY is not set"
    if _as_fernet_key(key) is None and len(key) < MIN_PASSPHRASE:
        return f"RINGBOT_SECRET_KEY is neither a Fernet key nor a passphrase of at least {MIN_PASSPHRASE} characters"
    return None


def _as_fernet_key(key: str) -> bytes | None:
    """The key's bytes when it already is a Fernet key (urlsafe base64 of exactly 32 bytes)."""
    raw = key.strip().encode()
    try:
        decoded = base64.urlsafe_b64decode(raw)
    except (binascii.Error, ValueError):
        return None
    return raw if len(decoded) == 32 and len(raw) == 44 else None


def derive_key(passphrase: str) -> bytes:
    """A Fernet key from a passphrase: scrypt(passphrase, fixed app salt), urlsafe base64."""
    return base64.urlsafe_b64encode(Scrypt(salt=_SALT, **_SCRYPT).derive(passphrase.encode()))


class Vault:
    """encrypt/decrypt for SIP passwords. Without a usable key, `available` is False and encrypt raises
    VaultUnavailable (ringbot still runs; only linking is refused)."""

    def __init__(self, key: str | None) -> None:
        self.problem = key_problem(key)
        self._fernet: Fernet | None = None
        if key and self.problem is None:
            self._fernet = Fernet(_as_fernet_key(key) or derive_key(key))

    @property
    def available(self) -> bool:
        return self._fernet is not None

    def __repr__(self) -> str:  # never the key, not even a prefix
        return f"Vault(available={self.available})"

    def _require(self) -> Fernet:
        if self._fernet is None:
            reason = self.problem or "RINGBOT_SECRET_KEY is not set"
            raise VaultUnavailable(f"{reason}. {HOW_TO_MAKE_A_KEY}")
        return self._fernet

    def encrypt(self, plaintext: str) -> str:
        """A Fernet token (ASCII) for `plaintext`; a fresh IV each time, so equal passwords differ."""
        return self._require().encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        """The plaintext for a token made by `encrypt` with the same key; VaultError otherwise."""
        fernet = self._require()
        try:
            return fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError, ValueError):
            raise VaultError(WRONG_KEY) from None
