"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) with a key derived from SECRET_KEY.

Shopify tokens and partner API keys are stored only as ciphertext. Rotating SECRET_KEY needs a
re-encryption step (not yet provided); losing it means merchants re-open the app and re-enter
partner keys, never a data leak.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SecretDecryptionError(Exception):
    """Ciphertext that this SECRET_KEY did not produce (or that was tampered with)."""


class SecretBox:
    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise ValueError("SECRET_KEY is required to encrypt secrets at rest")
        self._fernet = _fernet(secret_key)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise SecretDecryptionError(
                "stored secret cannot be decrypted with SECRET_KEY"
            ) from None


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    # HKDF turns any SECRET_KEY string into a uniform 32-byte Fernet key; the info label keeps
    # this key separate from any other use of SECRET_KEY.
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"loyalty/at-rest/v1").derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))
