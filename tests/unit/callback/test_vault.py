"""Vault: SIP passwords round-trip under the right key, never under another, and the key never shows."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.callback.vault import Vault, VaultError, VaultUnavailable, key_problem

FERNET_KEY = Fernet.generate_key().decode()
_ROUNDTRIP_VAULT = Vault(FERNET_KEY)


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=200))
def test_decrypt_returns_what_encrypt_was_given(plaintext: str) -> None:
    assert _ROUNDTRIP_VAULT.decrypt(_ROUNDTRIP_VAULT.encrypt(plaintext)) == plaintext


def test_token_does_not_contain_the_plaintext_and_differs_each_time() -> None:
    vault = Vault(FERNET_KEY)
    a, b = vault.encrypt("s3cret-sip-pass"), vault.encrypt("s3cret-sip-pass")
    assert "s3cret-sip-pass" not in a and a != b


def test_passphrase_key_is_derived_and_stable_across_instances() -> None:
    passphrase = "correct horse battery staple"
    token = Vault(passphrase).encrypt("pw-123")
    assert Vault(passphrase).available
    assert Vault(passphrase).decrypt(token) == "pw-123"


def test_wrong_key_on_decrypt_says_relink() -> None:
    token = Vault(FERNET_KEY).encrypt("pw-123")
    with pytest.raises(VaultError, match="relink with /ring link"):
        Vault(Fernet.generate_key().decode()).decrypt(token)


def test_damaged_token_is_a_vault_error() -> None:
    with pytest.raises(VaultError):
        Vault(FERNET_KEY).decrypt("not-a-token")


@pytest.mark.parametrize("key", ["", None, "short-pass"])
def test_without_a_usable_key_encrypt_says_how_to_make_one(key: str | None) -> None:
    vault = Vault(key)
    assert not vault.available
    with pytest.raises(VaultUnavailable) as info:
        vault.encrypt("pw")
    assert "Fernet.generate_key()" in str(info.value)
    assert "RINGBOT_SECRET_KEY" in str(info.value)


def test_key_problem_accepts_fernet_keys_and_long_passphrases_only() -> None:
    assert key_problem(FERNET_KEY) is None
    assert key_problem("x" * 16) is None
    assert key_problem("x" * 15) is not None
    assert key_problem("") is not None


def test_repr_never_shows_the_key() -> None:
    for key in (FERNET_KEY, "a long enough passphrase"):
        text = repr(Vault(key)) + str(Vault(key))
        assert key not in text and key[:8] not in text
