"""Who may use the console, and how a request proves it.

- **Accounts** (table ``users``): a username, an argon2 hash of the password (argon2-cffi, its
  default parameters: what OWASP recommends), a role (:data:`ROLES`) and, for a unit's clerk, the
  unit (``dept.TAX``, ``county.410402``). ``petition-hub console users add|disable|list``.
- **Sessions**: a signed cookie (itsdangerous, the key of :func:`console_secret`) that carries the
  username and a random nonce, and expires after ``HUB_CONSOLE_SESSION_HOURS``. Nothing else
  rides in it: the account is read again on every request, so a disabled account is out at once.
  A visitor who has not signed in gets an anonymous session (no username) so that the sign-in
  form has a CSRF token too; signing in issues a new nonce (no session fixation).
- **CSRF**: every form carries ``csrf_token``, an HMAC of the session's nonce; a POST without the
  right one is refused (403). JSON calls made with the session cookie send it as
  ``X-CSRF-Token``; calls with a bearer token carry no cookie, so need none.
- **Throttling**: :data:`MAX_FAILURES` failed sign-ins for a username within :data:`WINDOW`
  (table ``login_failures``) and that username is refused, right password or not, until the
  oldest failure leaves the window (every replica sees the same rows).
- **API tokens**: a client may send ``Authorization: Bearer <token>`` with a token of
  ``HUB_API_TOKENS`` (as the workers' web ports accept): it acts as the ``api`` principal of
  role ``operator`` (reads every list, sees no personal data, takes no action).

Personal data never appears here; usernames are staff accounts, not petitioners.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from petition_hub.console.models import LoginFailure, User
from petition_hub.service.settings import Settings
from petition_hub.service.web import api_tokens, bearer_ok

__all__ = [
    "MAX_FAILURES",
    "ROLES",
    "WINDOW",
    "LoginResult",
    "Principal",
    "Sessions",
    "UserError",
    "add_user",
    "authenticate",
    "console_secret",
    "disable_user",
    "list_users",
    "token_principal",
]

#: The roles: the joint-meeting office (联席会议办公室), a unit's clerk, the leading group
#: (领导小组), the hub's operators.
ROLES: Final = ("office", "unit", "leadership", "operator")
#: Failed sign-ins of one username within :data:`WINDOW` after which it is refused for a while.
MAX_FAILURES: Final = 5
WINDOW: Final = timedelta(minutes=15)
#: The principal a bearer token of HUB_API_TOKENS stands for.
API_PRINCIPAL: Final = "api"
#: Where the signing key lives when HUB_CONSOLE_SECRET is unset.
SECRET_FILE: Final = "console-secret.key"

_hasher = PasswordHasher()


class UserError(ValueError):
    """An account that cannot be made or changed (the message says why)."""


class LoginResult(StrEnum):
    OK = "ok"
    BAD = "bad"
    """Unknown username, wrong password or disabled: one answer for all three."""
    THROTTLED = "throttled"


@dataclass(frozen=True)
class Principal:
    """Who makes a request: a signed-in account, or an API client (``via`` ``token``)."""

    username: str
    role: str
    unit: str | None = None
    via: str = "session"
    csrf: str = ""
    """The session's CSRF token (empty for a bearer token: no cookie, no CSRF)."""

    @property
    def office(self) -> bool:
        return self.role == "office"


def token_principal(authorization: str | None, settings: Settings) -> Principal | None:
    """The API principal when ``authorization`` carries a token of ``HUB_API_TOKENS``."""
    tokens = api_tokens(settings.api_tokens)
    if not tokens or not bearer_ok(authorization, tokens):
        return None
    return Principal(API_PRINCIPAL, "operator", via="token")


def console_secret(settings: Settings) -> bytes:
    """The key for sessions and CSRF: ``HUB_CONSOLE_SECRET``, else a random one kept in
    ``HUB_DATA_DIR`` (made on first use, readable by its owner only)."""
    if settings.console_secret is not None and settings.console_secret.get_secret_value():
        return settings.console_secret.get_secret_value().encode()
    path = Path(settings.data_dir) / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # O_EXCL: two replicas starting at once keep one key
            with path.open("x", encoding="ascii") as f:
                f.write(secrets.token_urlsafe(48))
            path.chmod(0o600)
        except FileExistsError:
            pass
    return path.read_text(encoding="ascii").strip().encode()


@dataclass(frozen=True)
class SessionData:
    """What a session cookie carries: the account (None before signing in) and its nonce."""

    username: str | None
    nonce: str


class Sessions:
    """Signed session cookies and the CSRF tokens bound to them."""

    COOKIE: Final = "hub_console"

    def __init__(self, secret: bytes, max_age_seconds: float) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="petition-hub-console-session")
        self._csrf_key = hashlib.sha256(b"petition-hub-console-csrf\0" + secret).digest()
        self.max_age = max_age_seconds

    def issue(self, username: str | None) -> tuple[str, SessionData]:
        """A new session (a fresh nonce) for ``username`` (None: anonymous): (cookie, data)."""
        data = SessionData(username, secrets.token_urlsafe(24))
        return self._serializer.dumps({"u": username, "n": data.nonce}), data

    def read(self, cookie: str | None) -> SessionData | None:
        """The session of ``cookie``; None when absent, forged or expired."""
        if not cookie:
            return None
        try:
            raw = self._serializer.loads(cookie, max_age=int(self.max_age))
        except BadSignature:  # SignatureExpired is one
            return None
        if not isinstance(raw, dict) or not isinstance(raw.get("n"), str):
            return None
        user = raw.get("u")
        return SessionData(user if isinstance(user, str) else None, raw["n"])

    def csrf_token(self, session: SessionData) -> str:
        """The CSRF token of ``session`` (an HMAC of its nonce: nothing to store)."""
        return hmac.new(self._csrf_key, session.nonce.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session: SessionData | None, token: str | None) -> bool:
        """Whether ``token`` is ``session``'s CSRF token (constant time)."""
        if session is None or not token:
            return False
        return hmac.compare_digest(self.csrf_token(session), token)


def _now() -> datetime:
    return datetime.now(UTC)


def _check_role(role: str, unit: str | None) -> None:
    if role not in ROLES:
        raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if role == "unit":
        if not unit or not (unit.startswith("dept.") or unit.startswith("county.")):
            raise UserError("a unit account needs its unit: dept.<CODE> or county.<DIV>")
    elif unit:
        raise UserError(f"only a unit account has a unit (role {role})")


def add_user(
    db: Session,
    username: str,
    password: str,
    role: str,
    unit: str | None = None,
    now: datetime | None = None,
) -> User:
    """Make an account; :class:`UserError` when the name is taken or the role does not fit."""
    username = username.strip()
    if not username or len(username) > 128:
        raise UserError("a username has 1 to 128 characters")
    if len(password) < 8:
        raise UserError("a password has at least 8 characters")
    _check_role(role, unit)
    if db.scalar(select(User).where(User.username == username)) is not None:
        raise UserError(f"the username {username!r} is taken")
    user = User(
        username=username,
        password_hash=_hasher.hash(password),
        role=role,
        unit=unit if role == "unit" else None,
        disabled=False,
        created_at=now or _now(),
    )
    db.add(user)
    db.flush()
    return user


def disable_user(db: Session, username: str) -> bool:
    """Disable an account (it can no longer sign in; its sessions end); False if unknown."""
    user = db.scalar(select(User).where(User.username == username))
    if user is None:
        return False
    user.disabled = True
    return True


def list_users(db: Session) -> Sequence[User]:
    """Every account, by username."""
    return db.scalars(select(User).order_by(User.username)).all()


def active_user(db: Session, username: str | None) -> User | None:
    """The enabled account of ``username`` (None: none, or disabled)."""
    if not username:
        return None
    user = db.scalar(select(User).where(User.username == username))
    return None if user is None or user.disabled else user


def throttled(db: Session, username: str, now: datetime) -> bool:
    """Whether ``username`` had :data:`MAX_FAILURES` failed sign-ins within :data:`WINDOW`."""
    recent = db.scalar(
        select(func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.username == username, LoginFailure.at > now - WINDOW)
    )
    return (recent or 0) >= MAX_FAILURES


def authenticate(
    db: Session, username: str, password: str, now: datetime | None = None
) -> tuple[LoginResult, User | None]:
    """Check a sign-in. A throttled username is refused before its password is looked at; a
    failure is recorded (for the throttle), a success clears the username's failures."""
    at = now or _now()
    username = username.strip()[:128]
    if throttled(db, username, at):
        return LoginResult.THROTTLED, None
    user = active_user(db, username)
    ok = False
    if user is not None:
        try:
            ok = _hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
    else:
        # the same work for an unknown name, so timing does not tell which names exist
        _hasher.hash(password)
    if not ok or user is None:
        db.add(LoginFailure(username=username, at=at))
        # keep the table small: what is out of every window counts for nothing
        db.execute(delete(LoginFailure).where(LoginFailure.at < at - 4 * WINDOW))
        return LoginResult.BAD, None
    db.execute(delete(LoginFailure).where(LoginFailure.username == username))
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return LoginResult.OK, user


def principal_of(user: User, csrf: str) -> Principal:
    """The principal of a signed-in ``user``."""
    return Principal(user.username, user.role, user.unit, "session", csrf)
