"""Errors of user accounts and sign-in."""

from __future__ import annotations

from app.errors import AppError, Conflict, NotFound, Unauthorized, Unprocessable
from app.i18n import _


class UsernameTaken(Conflict):
    slug = "username-taken"


class UnknownUser(NotFound):
    slug = "unknown-user"


class InvalidUser(Unprocessable):
    pass


class SignInFailed(Unauthorized):
    """Wrong username or password (which of the two is never said)."""

    slug = "sign-in-failed"


class SignInThrottled(AppError):
    """Too many failures just now: the next attempt is accepted after ``retry_after`` seconds."""

    status, title, slug = 429, _("Too many requests"), "sign-in-throttled"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, extra={"retry_after": retry_after})
        self.retry_after = retry_after


class AccountLocked(SignInThrottled):
    slug = "account-locked"
