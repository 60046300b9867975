"""The Django Channels stack (SyncPlay Backend, StreamIt) as a baseline: the same room
broadcast on Django Channels + daphne.

Only what the fan-out load generator uses: ``hello`` (join a group), ``chat_send`` and
``seek`` (broadcast to the room, encoded once, acknowledged to the sender), ``pong``
(ignored). No persistence, no validation beyond what the handlers touch, no rate
limits: it is a lower bound on what that stack costs for the same fan-out.
"""
