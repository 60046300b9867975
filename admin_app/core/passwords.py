"""Password hashing with argon2id (argon2-cffi, RFC 9106), off the event loop.

One hash or verify costs about 130-150 ms of CPU and 64 MiB with argon2-cffi's
defaults (STACK-NOTES), so it never runs on the event loop: it runs in a worker
thread behind a ``trio.CapacityLimiter(2)``, which also bounds the memory a burst of
sign-ins can take.
"""

from __future__ import annotations

import trio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

#: Longest password accepted, in characters: argon2 takes any length, but hashing a
#: megabyte for every guess would be a cheap way to burn the server's CPU.
MAX_PASSWORD_CHARS = 1024


class Passwords:
    """Hash and verify passwords in worker threads.

    Args:
        hasher: The argon2 hasher (its parameters decide cost); argon2-cffi's
            defaults when None. Tests pass a cheap one.
        max_threads: Hashes running at once.
    """

    def __init__(self, hasher: PasswordHasher | None = None, *, max_threads: int = 2) -> None:
        self.hasher = hasher or PasswordHasher()
        self.limiter = trio.CapacityLimiter(max_threads)
        self._dummy_hash: str | None = None

    async def hash(self, password: str) -> str:
        """Return the argon2id hash of *password* (a PHC string with its salt)."""
        return await trio.to_thread.run_sync(self.hasher.hash, password, limiter=self.limiter)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Return whether *password* matches *password_hash*.

        With *password_hash* None (an unknown account) a dummy hash is verified
        instead and False returned, so that an unknown email takes as long to refuse
        as a wrong password and response times do not reveal which accounts exist.

        Error handling:
            A malformed stored hash counts as a mismatch.
        """
        if password_hash is None:
            if self._dummy_hash is None:
                self._dummy_hash = await self.hash("watchparty dummy password")
            await trio.to_thread.run_sync(
                self._check, self._dummy_hash, password, limiter=self.limiter
            )
            return False
        return await trio.to_thread.run_sync(
            self._check, password_hash, password, limiter=self.limiter
        )

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether *password_hash* was made with other parameters than the hasher's."""
        try:
            return self.hasher.check_needs_rehash(password_hash)
        except (InvalidHashError, ValueError):
            return False

    def _check(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
