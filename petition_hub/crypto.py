"""Encryption at rest of personal information (dead letters keep the original bytes).

``HUB_PII_KEY`` holds one or more Fernet keys, comma-separated, newest first: new data is
encrypted with the first, and any of them decrypts, so keys can be rotated without re-encrypting
old dead letters at once. ``petition-hub dev`` (the embedded broker) makes a key of its own in the
data directory when none is set; against a real Kafka the key must be given.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from .settings import Settings

__all__ = ["InvalidToken", "PiiCipher", "cipher_for"]


class PiiCipher:
    """Authenticated encryption (Fernet: AES-128-CBC + HMAC-SHA256) with key rotation."""

    def __init__(self, keys: str) -> None:
        parts = [k.strip() for k in keys.split(",") if k.strip()]
        if not parts:
            raise ValueError("HUB_PII_KEY is empty")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in parts])
        except ValueError as exc:
            raise ValueError(
                "HUB_PII_KEY must be Fernet keys (32 url-safe base64 bytes each; make one with "
                "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key()"
                ".decode())'`)"
            ) from exc

    def encrypt(self, data: bytes) -> bytes:
        """``data`` encrypted with the newest key."""
        return self._fernet.encrypt(data)

    def decrypt(self, token: bytes) -> bytes:
        """The plaintext of ``token``; raises :class:`InvalidToken` for a wrong key or tampering."""
        return self._fernet.decrypt(token)


def _dev_key(data_dir: Path) -> str:
    path = data_dir / "dev-pii.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(Fernet.generate_key())
        path.chmod(0o600)
    return path.read_text().strip()


def cipher_for(settings: Settings) -> PiiCipher:
    """The cipher of ``HUB_PII_KEY``; on the embedded broker, a per-data-dir dev key if unset."""
    if settings.pii_key is not None:
        return PiiCipher(settings.pii_key.get_secret_value())
    if settings.embedded:
        return PiiCipher(_dev_key(settings.data_dir))
    raise ValueError("HUB_PII_KEY is not set: dead letters must be encrypted at rest")
