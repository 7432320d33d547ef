"""Encryption at rest of personal information (dead letters keep the original bytes).

``HUB_PII_KEY`` holds one or more Fernet keys, comma-separated, newest first: new data is
encrypted with the first, and any of them decrypts, so keys can be rotated without re-encrypting
old dead letters at once. Every worker and tool that seals or opens dead letters must be given
the key, on any broker: without it they refuse to start (:func:`cipher_for`), since a key made up
on the spot would seal dead letters no other process can read. Only ``petition-hub dev`` makes a
key of its own (:func:`dev_key_file`, in the data directory) and hands it to its worker.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Final

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from petition_hub.service.settings import Settings

__all__ = ["DEV_KEY_FILE", "InvalidToken", "MissingKeyError", "PiiCipher", "cipher_for"]

#: The file ``petition-hub dev`` keeps its key in, in ``HUB_DATA_DIR``.
DEV_KEY_FILE: Final = "dev-pii.key"


class MissingKeyError(ValueError):
    """``HUB_PII_KEY`` is not set (or empty) where a key is needed."""


class PiiCipher:
    """Authenticated encryption (Fernet: AES-128-CBC + HMAC-SHA256) with key rotation."""

    def __init__(self, keys: str) -> None:
        parts = [k.strip() for k in keys.split(",") if k.strip()]
        if not parts:
            raise MissingKeyError("HUB_PII_KEY is empty")
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


def has_key(settings: Settings) -> bool:
    """True when ``HUB_PII_KEY`` is set to something other than blanks."""
    return settings.pii_key is not None and bool(settings.pii_key.get_secret_value().strip())


def cipher_for(settings: Settings) -> PiiCipher:
    """The cipher of ``HUB_PII_KEY``, on any broker; raises :class:`MissingKeyError` when it is
    not set and ``ValueError`` when it is not Fernet keys (both with a one-line message)."""
    if settings.pii_key is None or not has_key(settings):
        raise MissingKeyError(
            "HUB_PII_KEY is not set: give every worker and tool the same Fernet key(s) that "
            "encrypt dead letters (only `petition-hub dev` makes a key of its own)"
        )
    return PiiCipher(settings.pii_key.get_secret_value())


def dev_key_file(data_dir: Path) -> Path:
    """``petition-hub dev``'s key file in ``data_dir`` (absolute), made on first use (mode 0600)."""
    path = (data_dir / DEV_KEY_FILE).resolve()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # made meanwhile by another dev: keep it
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(Fernet.generate_key())
    return path
