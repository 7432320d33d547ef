"""The hub's own Kafka login: SASL (PLAIN, SCRAM-SHA-256/512) and TLS for every client it makes.

One place turns the ``HUB_SECURITY_PROTOCOL``, ``HUB_SASL_*`` and ``HUB_SSL_*`` settings into what
each client library wants, so the workers and the tools all log in as the same principal
(``User:petition-hub`` in deploy/kafka/README.md):

- :func:`aiokafka_options`: keyword arguments for every aiokafka client (the stages' consumers,
  producers and admin, :mod:`petition_hub.broker.offsets`, :func:`.broker.reading.event_ids_since`);
- :func:`faust_credentials`: faust's ``broker_credentials`` (the worker's own consumer, producer and
  topic creation; :func:`petition_hub.service.app.faust_settings`);
- :func:`confluent_config`: a confluent-kafka (librdkafka) configuration, for the operator tools
  (``topics apply/diff``, :func:`.broker.reading.read_all` for ``report``, ``dlq`` and ``rules
  dry-run``, ``dlq``, ``privacy erase``: :mod:`petition_hub.broker.tools`).

Everything is checked before the first connection, and a bad combination is refused with one line
naming the settings (:class:`SecurityConfigError`): a SASL protocol without mechanism, user or
password; SASL settings or certificate files that the protocol would silently ignore; a key
without its certificate; files that do not exist or do not load.

The password never reaches a log or a repr: the settings hold it as a ``SecretStr``, and the
option mappings hold it as a :class:`Redacted` string, whose repr is masked (a dict's repr, as a
log line of the options would show it, shows each value's repr); librdkafka's own dump of its
configuration (``debug=conf``) shows ``sasl.password = [redacted]``.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from petition_hub.service.settings import Settings

if TYPE_CHECKING:
    from faust.types.auth import CredentialsT

__all__ = [
    "SASL_MECHANISMS",
    "ClientSecurity",
    "Redacted",
    "SecurityConfigError",
    "aiokafka_options",
    "check",
    "client_security",
    "confluent_config",
    "faust_credentials",
]

#: The mechanisms the hub's clients can log in with (both client libraries support them).
SASL_MECHANISMS: Final = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")

_SASL_PROTOCOLS: Final = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})
_TLS_PROTOCOLS: Final = frozenset({"SSL", "SASL_SSL"})
_MASK: Final = "'**********'"


class SecurityConfigError(ValueError):
    """The hub's Kafka security settings do not fit together; the message is one line, names the
    ``HUB_*`` settings and never holds a secret."""


class Redacted(str):
    """A secret string that Kafka clients use as it is, but whose repr is masked.

    ``repr()`` (and so a dict or keyword arguments logged with ``%s``/``%r``) shows
    ``'**********'``; the clients read the characters, so they still log in.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return _MASK


class _EncryptedKey(Exception):
    """Raised by the key-password callback: the hub has no setting for a key's password."""


def _no_key_password() -> str:
    # without a callback OpenSSL would prompt on the terminal for an encrypted key's password
    # (a worker would hang); the hub takes unencrypted PEM keys only
    raise _EncryptedKey


@dataclass(frozen=True)
class ClientSecurity:
    """Validated security settings of the hub's Kafka clients (:func:`client_security`)."""

    protocol: str = "PLAINTEXT"
    mechanism: str | None = None
    username: str | None = None
    password: Redacted | None = None
    cafile: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None

    @property
    def sasl(self) -> bool:
        """The clients authenticate with SASL."""
        return self.protocol in _SASL_PROTOCOLS

    @property
    def tls(self) -> bool:
        """The clients connect with TLS."""
        return self.protocol in _TLS_PROTOCOLS

    @cached_property
    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context every client shares (aiokafka's ``create_ssl_context``: certificate
        and host name verified, the system's CAs unless ``HUB_SSL_CAFILE``), or None without
        TLS. Raises :class:`SecurityConfigError` when a file does not load."""
        if not self.tls:
            return None
        from aiokafka.helpers import create_ssl_context

        password: Callable[[], str] | None = _no_key_password if self.certfile else None
        try:
            context: ssl.SSLContext = create_ssl_context(
                cafile=self.cafile, certfile=self.certfile, keyfile=self.keyfile, password=password
            )
            return context
        except _EncryptedKey:
            raise SecurityConfigError(
                f"HUB_SSL_KEYFILE {self.keyfile or self.certfile}: the private key is encrypted; "
                "give the hub an unencrypted PEM key (readable only by its user)"
            ) from None
        except (ssl.SSLError, OSError, ValueError) as exc:
            which = "HUB_SSL_CERTFILE/HUB_SSL_KEYFILE" if self.certfile else "HUB_SSL_CAFILE"
            files = ", ".join(str(p) for p in (self.cafile, self.certfile, self.keyfile) if p)
            reason = getattr(exc, "reason", None) or type(exc).__name__
            raise SecurityConfigError(
                f"{which}: cannot load {files or 'the system CAs'} as PEM ({reason})"
            ) from None

    def describe(self) -> str:
        """One line for logs and errors, without the password."""
        parts = [self.protocol]
        if self.sasl:
            parts.append(f"{self.mechanism} as {self.username}")
        if self.tls:
            parts.append(f"CA {self.cafile}" if self.cafile else "system CAs")
            if self.certfile:
                parts.append(f"client certificate {self.certfile}")
        return ", ".join(parts)

    # --- per client library ----------------------------------------------------------------------

    def aiokafka(self) -> dict[str, Any]:
        """Keyword arguments for AIOKafkaProducer, AIOKafkaConsumer and AIOKafkaAdminClient
        (empty for PLAINTEXT: the clients' defaults)."""
        if self.protocol == "PLAINTEXT":
            return {}
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.sasl:
            options["sasl_mechanism"] = self.mechanism
            options["sasl_plain_username"] = self.username
            options["sasl_plain_password"] = self.password
        if self.tls:
            options["ssl_context"] = self.ssl_context
        return options

    def confluent(self) -> dict[str, str]:
        """confluent-kafka (librdkafka) configuration entries (files by path: librdkafka loads
        them itself and verifies the broker's host name by default)."""
        if self.protocol == "PLAINTEXT":
            return {}
        config: dict[str, str] = {"security.protocol": self.protocol.lower()}
        if self.sasl:
            assert self.mechanism and self.username and self.password is not None
            config["sasl.mechanisms"] = self.mechanism
            config["sasl.username"] = self.username
            config["sasl.password"] = self.password
        if self.tls:
            if self.cafile:
                config["ssl.ca.location"] = str(self.cafile)
            if self.certfile:
                config["ssl.certificate.location"] = str(self.certfile)
            if self.keyfile:
                config["ssl.key.location"] = str(self.keyfile)
        return config

    def faust(self) -> CredentialsT | None:
        """faust's ``broker_credentials``: SASL credentials (with the TLS context on SASL_SSL),
        TLS credentials on SSL, None on PLAINTEXT."""
        if self.protocol == "PLAINTEXT":
            return None
        import faust

        if self.sasl:
            return faust.SASLCredentials(
                username=self.username,
                password=self.password,
                mechanism=self.mechanism,
                ssl_context=self.ssl_context,
            )
        return faust.SSLCredentials(self.ssl_context)


def _file(setting: str, path: Path | None) -> Path | None:
    if path is None:
        return None
    if not path.exists():
        raise SecurityConfigError(f"{setting} {path}: no such file")
    if not path.is_file():
        raise SecurityConfigError(f"{setting} {path}: not a file")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise SecurityConfigError(f"{setting} {path}: cannot read it ({exc.strerror})") from None
    return path


def client_security(settings: Settings) -> ClientSecurity:
    """The validated security of ``settings``' Kafka clients; raises :class:`SecurityConfigError`
    (one line) for a combination that cannot log in, or that would ignore a setting."""
    protocol = settings.security_protocol
    password = settings.sasl_password.get_secret_value() if settings.sasl_password else None
    given = {
        "HUB_SASL_MECHANISM": settings.sasl_mechanism,
        "HUB_SASL_USERNAME": settings.sasl_username,
        "HUB_SASL_PASSWORD": password,
    }
    if protocol in _SASL_PROTOCOLS:
        missing = [name for name, value in given.items() if not value]
        if missing:
            raise SecurityConfigError(
                f"HUB_SECURITY_PROTOCOL={protocol} needs HUB_SASL_MECHANISM "
                f"({', '.join(SASL_MECHANISMS)}), HUB_SASL_USERNAME and HUB_SASL_PASSWORD: "
                f"{' and '.join(missing)} not set"
            )
    else:
        stray = [name for name, value in given.items() if value]
        if stray:
            raise SecurityConfigError(
                f"{', '.join(stray)} set but HUB_SECURITY_PROTOCOL={protocol} does not use SASL "
                "(SASL_PLAINTEXT or SASL_SSL does)"
            )
    files = {
        "HUB_SSL_CAFILE": settings.ssl_cafile,
        "HUB_SSL_CERTFILE": settings.ssl_certfile,
        "HUB_SSL_KEYFILE": settings.ssl_keyfile,
    }
    if protocol not in _TLS_PROTOCOLS:
        stray = [name for name, value in files.items() if value is not None]
        if stray:
            raise SecurityConfigError(
                f"{', '.join(stray)} set but HUB_SECURITY_PROTOCOL={protocol} does not use TLS "
                "(SSL or SASL_SSL does)"
            )
    if settings.ssl_keyfile is not None and settings.ssl_certfile is None:
        raise SecurityConfigError("HUB_SSL_KEYFILE set without HUB_SSL_CERTFILE (its certificate)")
    security = ClientSecurity(
        protocol=protocol,
        mechanism=settings.sasl_mechanism if protocol in _SASL_PROTOCOLS else None,
        username=settings.sasl_username if protocol in _SASL_PROTOCOLS else None,
        password=Redacted(password) if protocol in _SASL_PROTOCOLS and password else None,
        cafile=_file("HUB_SSL_CAFILE", settings.ssl_cafile),
        certfile=_file("HUB_SSL_CERTFILE", settings.ssl_certfile),
        keyfile=_file("HUB_SSL_KEYFILE", settings.ssl_keyfile),
    )
    _ = security.ssl_context  # load the files now: a bad one is refused before any connection
    return security


def check(settings: Settings) -> None:
    """Raise :class:`SecurityConfigError` (one line) unless the security settings can be used."""
    client_security(settings)


def aiokafka_options(settings: Settings) -> dict[str, Any]:
    """What every aiokafka client of the hub adds to its keyword arguments (empty: PLAINTEXT)."""
    return client_security(settings).aiokafka()


def confluent_config(settings: Settings) -> dict[str, str]:
    """What a confluent-kafka client of the hub adds to its configuration."""
    return client_security(settings).confluent()


def faust_credentials(settings: Settings) -> CredentialsT | None:
    """faust's ``broker_credentials`` for the worker (None: PLAINTEXT)."""
    return client_security(settings).faust()
