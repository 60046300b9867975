"""Roles of room participants and the values of the room settings that name them.

Pure constants, shared by :mod:`protocol.room` and its rule modules.
"""

from __future__ import annotations

ROLE_HOST = "host"
ROLE_COHOST = "cohost"
ROLE_MODERATOR = "moderator"  # between co-host and viewer: moderates, does not control
ROLE_VIEWER = "viewer"
ROLES = (ROLE_HOST, ROLE_COHOST, ROLE_MODERATOR, ROLE_VIEWER)

#: Actor prefix of a REST action by an account with no participant in the room.
USER_ACTOR_PREFIX = "user:"

CONTROL_HOST = "host"
CONTROL_COHOSTS = "cohosts"
CONTROL_EVERYONE = "everyone"

__all__ = [
    "CONTROL_COHOSTS",
    "CONTROL_EVERYONE",
    "CONTROL_HOST",
    "ROLES",
    "ROLE_COHOST",
    "ROLE_HOST",
    "ROLE_MODERATOR",
    "ROLE_VIEWER",
    "USER_ACTOR_PREFIX",
]
