"""Request and response models of the auth endpoints, and the checks of emails,
passwords and display names that ``createsuperuser`` shares with them."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from admin_app.core.passwords import MAX_PASSWORD_CHARS
from admin_app.core.schemas import Body

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
MIN_PASSWORD_CHARS = 8


def check_email(value: str) -> str:
    """An email, trimmed; raises ValueError unless it looks like ``name@host.tld``."""
    value = value.strip()
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("must be an email address like name@example.org (at most 254 characters)")
    return value


def check_password(value: str) -> str:
    """A password of 8 to 1024 characters, unchanged; raises ValueError otherwise."""
    if not MIN_PASSWORD_CHARS <= len(value) <= MAX_PASSWORD_CHARS:
        raise ValueError(
            f"must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters, got {len(value)}"
        )
    return value


def check_display_name(value: str) -> str:
    """A display name, trimmed, 1 to 40 characters without control characters."""
    value = value.strip()
    if not 1 <= len(value) <= 40:
        raise ValueError("must be 1 to 40 characters (after trimming spaces)")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
        raise ValueError("must not contain control or invisible formatting characters")
    return value


EMAIL_PATTERN = r"^\s*[^@\s]+@[^@\s]+\.[^@\s.]+\s*$"

Email = Annotated[str, Field(max_length=254, pattern=EMAIL_PATTERN), AfterValidator(check_email)]
AccountPassword = Annotated[
    str, Field(min_length=MIN_PASSWORD_CHARS, max_length=MAX_PASSWORD_CHARS)
]
DisplayName = Annotated[str, Field(min_length=1, max_length=40), AfterValidator(check_display_name)]


class RegisterIn(Body):
    email: Email
    password: AccountPassword
    display_name: DisplayName


class LoginIn(Body):
    email: Annotated[str, Field(min_length=1, max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD_CHARS)]


class GuestIn(Body):
    display_name: DisplayName


class RefreshIn(Body):
    refresh: Annotated[str, Field(min_length=1, max_length=4096)]


class UserOut(BaseModel):
    """An account."""

    id: str
    email: str | None
    display_name: str
    role: Literal["user", "staff", "admin"]
    is_guest: bool
    created_at: datetime


class TokensOut(BaseModel):
    """A fresh access and refresh token."""

    access: str
    refresh: str
    token_type: Literal["Bearer"]
    expires_in: int = Field(description="Lifetime of the access token, seconds.")


class SessionOut(TokensOut):
    """An account and its tokens."""

    user: UserOut
