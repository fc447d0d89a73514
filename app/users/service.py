"""User accounts and sign-in sessions.

Passwords are hashed with Argon2 (pwdlib's recommended parameters). A sign-in session is a
random token in an HttpOnly cookie; only its SHA-256 is stored, with a CSRF token that every
form of that session must send back. Failed sign-ins are counted per account: after
``THROTTLE_AFTER`` failures each further attempt waits longer (5 s, 10 s, 20 s, ...), and
after ``LOCK_AFTER`` the account is locked for ``LOCK_FOR``. A signed-in person acts as the
:class:`~app.auth.Principal` an API key of the same role and subject would be, named
``user:<username>`` in audit entries and result histories.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.auth import Principal
from app.centres.models import Centre
from app.db import new_id, utcnow
from app.departments.models import Department
from app.errors import AppError, ProblemItem
from app.i18n import _
from app.users.exceptions import (
    AccountLocked,
    InvalidUser,
    SignInFailed,
    SignInThrottled,
    UnknownUser,
    UsernameTaken,
)
from app.users.models import SignInSession, User
from app.users.states import SignInStatus, UserRole, UserStatus

THROTTLE_AFTER = 3
THROTTLE_WAIT = timedelta(seconds=5)
LOCK_AFTER = 6
LOCK_FOR = timedelta(minutes=15)
IDLE_TIMEOUT = timedelta(minutes=30)
MAX_AGE = timedelta(hours=12)
TOUCH_EVERY = timedelta(seconds=60)
MIN_PASSWORD = 10
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")

# Argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): a fraction of a second
# per sign-in on a small server, where pwdlib's default (64 MiB, 4 lanes) takes over a second.
_hasher = PasswordHash((Argon2Hasher(memory_cost=19_456, time_cost=2, parallelism=1),))
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def principal_of(user: User) -> Principal:
    """The principal a person acts as: the same as an API key of their role and subject."""
    return Principal(user.role, user.subject, f"user:{user.username}")  # type: ignore[arg-type]


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidUser(
            _("A password needs at least %(count)s characters.", count=MIN_PASSWORD),
            errors=[ProblemItem(pointer="/password", message=_("too short"))],
        )


def _check_subject(db: Session, role: str, subject: str | None) -> None:
    if role not in set(UserRole):
        raise InvalidUser(_("No role %(role)s: admin, centre or department.", role=repr(role)))
    if role == UserRole.ADMIN:
        if subject is not None:
            raise InvalidUser(_("An admin has no subject."))
        return
    model = Centre if role == UserRole.CENTRE else Department
    if subject is None or db.get(model, subject) is None:
        if role == UserRole.CENTRE:
            detail, message = _("No centre %(code)s.", code=subject), _("unknown centre")
        else:
            detail, message = _("No department %(code)s.", code=subject), _("unknown department")
        raise InvalidUser(detail, errors=[ProblemItem(pointer="/subject", message=message)])


def create(
    db: Session, *, username: str, role: str, subject: str | None, password: str, actor: str
) -> User:
    if not USERNAME.match(username):
        raise InvalidUser(
            _("A username is 2-64 lowercase letters, digits, dots, dashes or underscores."),
            errors=[ProblemItem(pointer="/username", message=_("not a valid username"))],
        )
    _check_subject(db, role, subject)
    check_password(password)
    if db.scalars(sa.select(User.id).where(User.username == username)).first() is not None:
        raise UsernameTaken(_("There is already a user %(username)s.", username=username))
    user = User(
        id=new_id("usr"),
        username=username,
        role=role,
        subject=subject,
        password_hash=_hasher.hash(password),
        status=UserStatus.ACTIVE,
        failed_sign_ins=0,
        created_at=utcnow(),
        created_by=actor,
    )
    db.add(user)
    db.flush()
    audit.append(
        db,
        actor=actor,
        action="user.created",
        subject=user.id,
        after={"username": username, "role": role, "subject": subject},
    )
    return user


def get(db: Session, *, username: str, lock: bool = False) -> User:
    stmt = sa.select(User).where(User.username == username)
    if lock:  # and read afresh once locked, not the copy this request may have loaded before
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    user = db.scalars(stmt).first()
    if user is None:
        raise UnknownUser(_("No user %(username)s.", username=username))
    return user


def list_users(db: Session) -> Sequence[User]:
    return db.scalars(sa.select(User).order_by(User.role, User.subject, User.username)).all()


def _end_sessions(db: Session, user_id: str, reason: str) -> None:
    db.execute(
        sa.update(SignInSession)
        .where(SignInSession.user_id == user_id, SignInSession.status == SignInStatus.OPEN)
        .values(status=SignInStatus.ENDED, ended_at=utcnow(), end_reason=reason)
    )


def disable(db: Session, *, username: str, actor: str) -> User:
    """Disable an account: its sign-in sessions end at once and it can no longer sign in."""
    user = get(db, username=username, lock=True)
    if user.status != UserStatus.DISABLED:
        user.status = UserStatus.DISABLED
        user.disabled_at = utcnow()
        _end_sessions(db, user.id, "disabled")
        db.flush()
        audit.append(
            db,
            actor=actor,
            action="user.disabled",
            subject=user.id,
            before=UserStatus.ACTIVE,
            after=UserStatus.DISABLED,
        )
    return user


def reset_password(db: Session, *, username: str, password: str, actor: str) -> User:
    """Set a new password; the account is active and unlocked again and its sessions end."""
    check_password(password)
    user = get(db, username=username, lock=True)
    before = user.status
    user.password_hash = _hasher.hash(password)
    user.status = UserStatus.ACTIVE
    user.disabled_at = None
    user.failed_sign_ins = 0
    user.locked_until = None
    _end_sessions(db, user.id, "password-reset")
    db.flush()
    audit.append(
        db,
        actor=actor,
        action="user.password-reset",
        subject=user.id,
        before=before,
        after=UserStatus.ACTIVE,
    )
    return user


@dataclass(frozen=True, slots=True)
class SignIn:
    """The outcome of a sign-in attempt: a session and its cookie token, or the refusal.

    A refusal is returned rather than raised so that the failure count it records commits."""

    session: SignInSession | None = None
    token: str | None = None
    role: str | None = None
    refusal: AppError | None = None


def _refusal_before_checking(user: User, now: datetime) -> AppError | None:
    if user.locked_until is not None and user.locked_until > now:
        wait = int((user.locked_until - now).total_seconds()) + 1
        return AccountLocked(
            _("Too many failed sign-ins: the account is locked for a while."), retry_after=wait
        )
    if user.failed_sign_ins >= THROTTLE_AFTER and user.last_failed_at is not None:
        ready = user.last_failed_at + timedelta(
            seconds=2 ** (user.failed_sign_ins - THROTTLE_AFTER)
        )
        if ready > now:
            wait = int((ready - now).total_seconds()) + 1
            return SignInThrottled(_("Too many failed sign-ins: wait a moment."), retry_after=wait)
    return None


def _record_failure(user: User, now: datetime) -> AppError:
    user.failed_sign_ins += 1
    user.last_failed_at = now
    if user.failed_sign_ins >= LOCK_AFTER:
        user.failed_sign_ins = 0
        user.locked_until = now + LOCK_FOR
        return AccountLocked(
            _("Too many failed sign-ins: the account is locked for a while."),
            retry_after=int(LOCK_FOR.total_seconds()),
        )
    return SignInFailed(_("The username or password is not right."))


def sign_in(db: Session, *, username: str, password: str) -> SignIn:
    now = utcnow()
    user = db.scalars(sa.select(User).where(User.username == username).with_for_update()).first()
    if user is None:
        _hasher.verify(password, _DUMMY_HASH)  # the same work as for a real account
        return SignIn(refusal=SignInFailed(_("The username or password is not right.")))
    refusal = _refusal_before_checking(user, now)
    if refusal is not None:
        return SignIn(refusal=refusal)
    if not _hasher.verify(password, user.password_hash) or user.status != UserStatus.ACTIVE:
        refusal = _record_failure(user, now)
        db.flush()
        return SignIn(refusal=refusal)
    user.failed_sign_ins = 0
    user.locked_until = None
    token = secrets.token_urlsafe(32)
    session = SignInSession(
        id=new_id("sis"),
        token_hash=_digest(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        status=SignInStatus.OPEN,
        created_at=now,
        last_seen_at=now,
    )
    db.add(session)
    db.flush()
    return SignIn(session=session, token=token, role=user.role)


@dataclass(frozen=True, slots=True)
class SignedIn:
    user: User
    session: SignInSession

    @property
    def principal(self) -> Principal:
        return principal_of(self.user)


def find(db: Session, *, token: str) -> SignedIn | None:
    """The open session for a cookie token and its user, or None. Nothing is written."""
    row = db.execute(
        sa.select(SignInSession, User)
        .join(User, User.id == SignInSession.user_id)
        .where(SignInSession.token_hash == _digest(token))
    ).first()
    if row is None:
        return None
    session, user = row
    if not hmac.compare_digest(session.token_hash, _digest(token)):
        return None
    if session.status != SignInStatus.OPEN or user.status != UserStatus.ACTIVE:
        return None
    return SignedIn(user, session)


def expiry_reason(signed_in: SignedIn, now: datetime) -> str | None:
    """Why an open session can no longer be used (idle too long, too old), if it cannot."""
    if signed_in.session.last_seen_at + IDLE_TIMEOUT < now:
        return "idle"
    if signed_in.session.created_at + MAX_AGE < now:
        return "expired"
    return None


def needs_touch(signed_in: SignedIn, now: datetime) -> bool:
    return signed_in.session.last_seen_at + TOUCH_EVERY < now


def touch(db: Session, *, session_id: str, end_reason: str | None = None) -> None:
    """Note that the session was used now, or end it with ``end_reason``."""
    values: dict[str, object] = {"last_seen_at": utcnow()}
    if end_reason is not None:
        values = {"status": SignInStatus.ENDED, "ended_at": utcnow(), "end_reason": end_reason}
    db.execute(
        sa.update(SignInSession)
        .where(SignInSession.id == session_id, SignInSession.status == SignInStatus.OPEN)
        .values(**values)
    )


def check_csrf(signed_in: SignedIn, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(
        signed_in.session.csrf_token.encode(), (presented or "").encode()
    )
