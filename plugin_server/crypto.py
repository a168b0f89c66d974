"""Encryption of shop credentials at rest.

Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) is authenticated encryption with a
well-reviewed implementation; the key is derived from LOYALTY_SECRET_KEY so operators can
supply any long random string.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken


class CredentialCipher:
    def __init__(self, secret_key: str) -> None:
        digest = hashlib.sha256(b"loyalty-credentials:" + secret_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def encrypt(self, plaintext: str | None) -> bytes | None:
        if plaintext is None:
            return None
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, token: bytes | None) -> str | None:
        if token is None:
            return None
        try:
            return self._fernet.decrypt(bytes(token)).decode()
        except InvalidToken as exc:
            raise ValueError(
                "stored credential cannot be decrypted: was LOYALTY_SECRET_KEY changed?"
            ) from exc


def hash_api_key(api_key: str) -> str:
    """Admin API keys are stored only as their SHA-256, so a database leak leaks no keys."""
    return hashlib.sha256(api_key.encode()).hexdigest()
