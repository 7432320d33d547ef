"""Personal data in the console's database: sealed (JSON encrypted with ``HUB_PII_KEY``, as the
dead letters are) in ``petitions.contact_sealed``, opened only where a reader's role may see it."""

from __future__ import annotations

import json
from collections.abc import Mapping

from petition_hub.service.crypto import PiiCipher


def seal_personal(cipher: PiiCipher, personal: Mapping[str, str | None]) -> bytes | None:
    """``personal`` (contact name and phone, the unmasked texts) as JSON encrypted with the PII
    key; None when it holds nothing."""
    kept = {k: v for k, v in personal.items() if v}
    if not kept:
        return None
    return cipher.encrypt(json.dumps(kept, ensure_ascii=False, sort_keys=True).encode())


def open_personal(cipher: PiiCipher, sealed: bytes | None) -> dict[str, str]:
    """What :func:`seal_personal` sealed (``contactName``, ``contactPhone``, ``title``,
    ``content``: whichever were present); empty for None."""
    if sealed is None:
        return {}
    found: dict[str, str] = json.loads(cipher.decrypt(sealed))
    return found
