"""The watchparty sync protocol, sans-IO: messages, codecs, clock math, room rules.

Nothing in this package does I/O, reads a clock or imports trio; the servers and
clients drive it. The wire reference is ``protocol/PROTOCOL.md``.
"""

from protocol.messages import PROTOCOL_VERSION

__all__ = ["PROTOCOL_VERSION"]
