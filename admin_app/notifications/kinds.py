"""Every notification kind, in one place, and how each is rendered.

A kind has a label, default channels, whether staff only may send it, and two Jinja
templates in ``admin_app/templates/notifications/``:

* ``<kind>.txt``: blocks ``title`` and ``body`` (in-app, short, plain text),
  ``subject`` and ``text`` (the email's subject line and plain-text part);
* ``<kind>.html``: the email's HTML part, extending ``_email.html`` (autoescaped).

Templates see the caller's ``context`` plus ``recipient`` (``{"display_name"}``),
``url`` (absolute when ``public_web_url`` is set, else the path as given) and
``site`` (``{"name", "url"}``). Undefined names are errors (``StrictUndefined``), so
a missing context value fails the ``notify`` call instead of sending a broken text.

Adding a kind: one :class:`Kind` row in :data:`KINDS` and its two templates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from protocol.errors import WatchpartyError

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "notifications"

#: Longest rendered in-app title and body, characters (longer ones are cut with "…").
MAX_TITLE_CHARS = 200
MAX_BODY_CHARS = 1_000


@dataclass(frozen=True, slots=True)
class Kind:
    """A notification kind.

    Attributes:
        name: Its name on the wire and in preferences.
        label: What the preferences page calls it.
        email: Whether email is on by default.
        push: Whether Web Push is on by default.
        in_app: Whether in-app is on by default.
        staff_only: Whether only staff may send it through the bulk endpoint (all kinds
            may be sent by server code).
    """

    name: str
    label: str
    email: bool = False
    push: bool = True
    in_app: bool = True
    staff_only: bool = False

    def default(self, channel: str) -> bool:
        """Whether *channel* is on for this kind when a user has not chosen."""
        return bool(getattr(self, channel))


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("event_reminder", "Reminders of events I attend", email=True),
        Kind("event_starting", "An event I attend is starting", email=False),
        Kind("event_changed", "An event I attend was moved or changed", email=True),
        Kind("event_cancelled", "An event I attend was cancelled", email=True),
        Kind("event_invitation", "Invitations to events", email=True),
        Kind("group_invitation", "Invitations to groups", email=True),
        Kind("group_join_request", "Requests to join a group I moderate"),
        Kind("support_reply", "Staff replies to my support tickets", email=True),
        Kind("support_ticket", "New and reopened support tickets (staff)", email=True),
        Kind("announcement", "Announcements from the staff", email=False, staff_only=True),
    )
}


class UnknownKindError(WatchpartyError):
    """A notification kind that is not in :data:`KINDS`."""

    code = "unknown_kind"


class TemplateContextError(WatchpartyError):
    """A kind's templates need a value its ``context`` lacks (or one of the wrong type)."""

    code = "invalid_context"


def get_kind(name: str) -> Kind:
    """The kind called *name*.

    Raises:
        UnknownKindError: if there is none.
    """
    kind = KINDS.get(name)
    if kind is None:
        raise UnknownKindError(
            f"expected a notification kind among {', '.join(KINDS)}, got {name!r}"
        )
    return kind


@dataclass(frozen=True, slots=True)
class InApp:
    """The in-app rendering of a notification."""

    title: str
    body: str


@dataclass(frozen=True, slots=True)
class Email:
    """The email rendering of a notification."""

    subject: str
    text: str
    html: str


class Renderer:
    """Renders kinds' templates (one Jinja environment per autoescape mode).

    Args:
        site_url: The server's public base URL (``public_web_url``), or ``""``.
        template_dir: Where the templates are (tests may point elsewhere).
    """

    def __init__(self, site_url: str = "", template_dir: Path = TEMPLATE_DIR) -> None:
        self.site_url = site_url.rstrip("/")
        loader = jinja2.FileSystemLoader(template_dir)
        self._text = jinja2.Environment(
            loader=loader, autoescape=False, undefined=jinja2.StrictUndefined
        )
        self._html = jinja2.Environment(
            loader=loader, autoescape=True, undefined=jinja2.StrictUndefined
        )

    def absolute_url(self, url: str | None) -> str | None:
        """*url* made absolute with ``public_web_url`` when it is a path."""
        if url is None or not url.startswith("/") or url.startswith("//"):
            return url
        return f"{self.site_url}{url}" if self.site_url else url

    def _variables(
        self, context: dict[str, Any], recipient_name: str, url: str | None
    ) -> dict[str, Any]:
        return {
            **context,
            "recipient": {"display_name": recipient_name},
            "url": self.absolute_url(url),
            "site": {"name": "watchparty", "url": self.site_url},
        }

    def in_app(
        self, kind: str, context: dict[str, Any], *, recipient_name: str, url: str | None
    ) -> InApp:
        """The in-app title and body of a notification.

        Raises:
            UnknownKindError: for an unknown kind.
            TemplateContextError: if *context* lacks a value the templates use.
        """
        get_kind(kind)
        blocks = self._blocks(kind, self._variables(context, recipient_name, url))
        return InApp(
            title=_cut(_one_line(blocks["title"]), MAX_TITLE_CHARS),
            body=_cut(blocks["body"].strip(), MAX_BODY_CHARS),
        )

    def email(
        self, kind: str, context: dict[str, Any], *, recipient_name: str, url: str | None
    ) -> Email:
        """The email subject, text and HTML of a notification.

        Raises:
            UnknownKindError: for an unknown kind.
            TemplateContextError: if *context* lacks a value the templates use.
        """
        get_kind(kind)
        variables = self._variables(context, recipient_name, url)
        blocks = self._blocks(kind, variables)
        try:
            html = self._html.get_template(f"{kind}.html").render(variables)
        except (jinja2.UndefinedError, TypeError, ValueError) as exc:
            raise TemplateContextError(f"the {kind} email cannot be rendered: {exc}") from exc
        return Email(
            subject=_cut(_one_line(blocks["subject"]), 200),
            text=blocks["text"].strip() + "\n",
            html=html,
        )

    def _blocks(self, kind: str, variables: dict[str, Any]) -> dict[str, str]:
        template = self._text.get_template(f"{kind}.txt")
        context = template.new_context(variables)
        try:
            return {
                name: "".join(template.blocks[name](context))
                for name in ("title", "body", "subject", "text")
            }
        except (jinja2.UndefinedError, TypeError, ValueError) as exc:
            raise TemplateContextError(
                f"the {kind} notification cannot be rendered from its context: {exc}"
            ) from exc
        except KeyError as exc:  # a template without one of the four blocks
            raise RuntimeError(f"template {kind}.txt lacks the block {exc}") from None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
