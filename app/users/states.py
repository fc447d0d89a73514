"""The states of a user account and of a sign-in session.

User accounts (``UserStatus``):

| from     | to       | by                                                   |
|----------|----------|------------------------------------------------------|
| (none)   | active   | ``oneexam users create`` or an admin in the console  |
| active   | disabled | ``oneexam users disable`` or an admin; every sign-in session ends at once |
| disabled | active   | ``oneexam users reset-password`` (a new password re-enables the account) |

A sign-in session (``SignInStatus``) is ``open`` from sign-in until it is ``ended``: by sign-out,
by its owner being disabled or given a new password, or by idling longer than the idle timeout
(an idle session is ended when it is next presented).
"""

from __future__ import annotations

from enum import StrEnum


class UserStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class SignInStatus(StrEnum):
    OPEN = "open"
    ENDED = "ended"


class UserRole(StrEnum):
    ADMIN = "admin"
    CENTRE = "centre"
    DEPARTMENT = "department"
