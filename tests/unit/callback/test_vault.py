"""Vault: SIP passwords round-trip under the right key, never under another, and the key never shows."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.callback.vault import Sealer, Vault, VaultError, VaultUnavailable, derive_key, key_problem

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


@pytest.mark.parametrize(
    "key",
    [
        FERNET_KEY[:-2] + "=",  # cut short
        FERNET_KEY[:-1] + "A=",  # one character too many
        "c2VjcmV0LXBhc3NwaHJhc2UtMTIzNDU2Nzg=",  # base64, but of 26 bytes
    ],
    ids=["cut-short", "one-too-many", "26-bytes"],  # the keys are new each run: every worker must see one name
)
def test_text_that_looks_like_a_fernet_key_but_is_not_one_is_malformed(key: str) -> None:
    problem = key_problem(key)
    assert problem is not None and "looks like a Fernet key" in problem and key not in problem


@pytest.mark.parametrize(
    "key",
    [
        "k" * 44,  # 44 characters, but no base64 padding: a passphrase
        "f3YkQy7J0mCq2M8TgB1rX9sLwZ4nHvA6dPcE5uKbRio",  # secrets.token_urlsafe(32): 43 characters, no padding
        "a passphrase with spaces = fine",
    ],
)
def test_passphrases_stay_passphrases(key: str) -> None:
    assert key_problem(key) is None
    assert Vault(key).decrypt(Vault(key).encrypt("pw")) == "pw"


def test_repr_never_shows_the_key() -> None:
    for key in (FERNET_KEY, "a long enough passphrase"):
        text = repr(Vault(key)) + str(Vault(key))
        assert key not in text and key[:8] not in text


# -- rotation: the old key opens, the new key seals ------------------------------------------------------
OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def test_with_both_keys_an_old_password_opens_and_a_new_one_is_sealed_with_the_new_key_only() -> None:
    old_token = Vault(OLD_KEY).encrypt("pw-old")
    both = Vault(NEW_KEY, OLD_KEY)
    assert both.decrypt(old_token) == "pw-old"
    sealed = both.encrypt("pw-new")
    assert Vault(NEW_KEY).decrypt(sealed) == "pw-new"
    with pytest.raises(VaultError):
        Vault(OLD_KEY).decrypt(sealed)


def test_sealer_says_which_key_opens_a_token() -> None:
    both = Vault(NEW_KEY, OLD_KEY)
    assert both.sealer(Vault(NEW_KEY).encrypt("a")) is Sealer.NEW
    assert both.sealer(Vault(OLD_KEY).encrypt("b")) is Sealer.OLD
    assert both.sealer(Vault(Fernet.generate_key().decode()).encrypt("c")) is Sealer.NEITHER
    assert both.sealer("not-a-token-é") is Sealer.NEITHER
    assert Vault(NEW_KEY).sealer(Vault(OLD_KEY).encrypt("b")) is Sealer.NEITHER  # without the old key


def test_rotate_reseals_an_old_token_so_the_new_key_alone_opens_it() -> None:
    old_token = Vault(OLD_KEY).encrypt("pw-201")
    rotated = Vault(NEW_KEY, OLD_KEY).rotate(old_token)
    assert rotated != old_token and "pw-201" not in rotated
    assert Vault(NEW_KEY).decrypt(rotated) == "pw-201"
    with pytest.raises(VaultError, match="relink"):
        Vault(NEW_KEY, OLD_KEY).rotate(Vault(Fernet.generate_key().decode()).encrypt("x"))


def test_a_passphrase_old_key_is_stretched_as_it_was_when_it_sealed() -> None:
    passphrase = "correct horse battery staple"
    token = Vault(passphrase).encrypt("pw-pass")
    assert Vault(NEW_KEY, passphrase).decrypt(token) == "pw-pass"
    assert Vault(passphrase, NEW_KEY).sealer(token) is Sealer.NEW


def test_a_mistyped_fernet_key_is_refused_as_the_key_but_still_opens_as_the_old_key() -> None:
    mistyped = NEW_KEY[:20] + NEW_KEY[21:]  # a character lost: 43 characters, still ending in "="
    assert "looks like a Fernet key" in (key_problem(mistyped) or "")
    assert not Vault(mistyped).available
    # ringbot used to stretch such a value as a passphrase: what it sealed then must still open
    legacy = Fernet(derive_key(mistyped)).encrypt(b"pw-legacy").decode()
    assert Vault(NEW_KEY, mistyped).decrypt(legacy) == "pw-legacy"


def test_an_old_key_no_ringbot_ever_accepted_is_refused() -> None:
    with pytest.raises(ValueError, match="RINGBOT_SECRET_KEY_OLD"):
        Vault(NEW_KEY, "short")


def test_an_old_key_is_not_used_without_a_new_key_and_never_shows() -> None:
    vault = Vault(None, OLD_KEY)
    assert not vault.available and not vault.has_old_key
    text = repr(Vault(NEW_KEY, OLD_KEY))
    assert OLD_KEY not in text and OLD_KEY[:8] not in text and "old_key=True" in text
