"""The watchparty data layer: schema, migrations and queries on one SQLite file.

Open the database with :func:`open_database`; run the query functions of
:mod:`data.chat`, :mod:`data.rooms` and :mod:`data.secrets` through
:meth:`Database.write` and :meth:`Database.read`.
"""

from .db import Database, open_database
from .errors import NotFoundError, StoreError

__all__ = ["Database", "NotFoundError", "StoreError", "open_database"]
