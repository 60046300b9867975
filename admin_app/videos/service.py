"""The rules of videos apart from HTTP: their settings, who is asking, who may see,
change and download a video, signed media links, the JSON the API shows, and the
media a room plays for a library video.

Rules:

* **See** (detail, stream, comments, likes): a public or unlisted video, anyone
  with its link (signed out too); a private one, its owner and staff only.
* **Change or delete**: its owner, and staff (``staff`` or ``admin`` role).
* **Download**: its owner and staff always; anyone else who may see it when
  ``allow_download`` is on and, for a premium video, when their account is premium.
* **Stream links**: a ``<video>`` element cannot send an ``Authorization`` header, so
  the stream and download URLs the API gives carry a signed ``?token=`` (typ
  ``media``, bound to the video and the account, ``media_token_ttl_s`` long) when
  the request needs an identity: a private video's stream, and any download by a
  signed-in caller (so that premium and the download record know who it is).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from quart import current_app, request, url_for

from admin_app.core.caller import authenticate
from admin_app.core.errors import ApiError
from admin_app.core.settings import setting_defaults
from admin_app.core.state import WebState
from admin_app.core.times import iso_ms
from data import users as user_store
from data import videos as video_store
from data.videos import Video
from protocol.tokens import TokenError, issue_token, verify_token

logger = logging.getLogger(__name__)

#: ``typ`` of signed media links.
TYP_MEDIA = "media"
#: ``app.extensions`` key of the :class:`VideoSettings`.
EXTENSION_KEY = "watchparty_videos"

#: Defaults of the video settings, from the settings table.
DEFAULTS: dict[str, Any] = setting_defaults(
    "media_dir", "max_upload_bytes", "ffprobe_path", "media_token_ttl_s"
)


@dataclass(frozen=True, slots=True)
class VideoSettings:
    """The video settings of the settings table (``protocol.settings.SETTINGS``).

    Attributes:
        media_dir: Where video files are stored (absolute).
        max_upload_bytes: Largest uploaded file, bytes.
        ffprobe_path: The ffprobe program, or empty for none.
        media_token_ttl_s: Lifetime of signed media links, seconds.
    """

    media_dir: Path
    max_upload_bytes: int
    ffprobe_path: str
    media_token_ttl_s: float

    @classmethod
    def from_config(cls, config: Any) -> VideoSettings:
        """Read them from a ``Config`` (or any object; missing ones: the defaults)."""

        def get(name: str) -> Any:
            return getattr(config, name, DEFAULTS[name])

        return cls(
            media_dir=Path(str(get("media_dir"))).expanduser().resolve(),
            max_upload_bytes=int(get("max_upload_bytes")),
            ffprobe_path=str(get("ffprobe_path")),
            media_token_ttl_s=float(get("media_token_ttl_s")),
        )


def video_settings() -> VideoSettings:
    """The :class:`VideoSettings` of the current app."""
    return current_app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is asking, for video rules.

    Attributes:
        user_id: The account, or None when signed out.
        is_staff: Whether it has the ``staff`` or ``admin`` role.
        is_admin: Whether it has the ``admin`` role.
        is_guest: Whether it is a guest account.
    """

    user_id: str | None = None
    is_staff: bool = False
    is_admin: bool = False
    is_guest: bool = False


ANONYMOUS = Viewer()


def viewer_of(user: user_store.User | None) -> Viewer:
    """The :class:`Viewer` of an account (None: signed out)."""
    if user is None:
        return ANONYMOUS
    return Viewer(
        user_id=user["id"],
        is_staff=user["role"] in ("staff", "admin"),
        is_admin=user["role"] == "admin",
        is_guest=bool(user["is_guest"]),
    )


async def current_viewer(st: WebState, *, video_id: str | None = None) -> Viewer:
    """The viewer of the current request.

    From the ``Authorization`` header when there is one; else, when *video_id* is
    given, from a signed ``?token=`` media link for that video; else signed out.

    Raises:
        ApiError: 401 ``invalid_token`` for a bad bearer token, or a media link that
            is forged, expired, for another video, or of a disabled account.
    """
    caller = await authenticate(st)
    if caller is not None:
        return viewer_of(caller.user)
    token = request.args.get("token") if video_id is not None else None
    if not token:
        return ANONYMOUS
    try:
        claims = verify_token(st.secret, token, typ=TYP_MEDIA, now_s=st.now_s())
    except TokenError as exc:
        raise ApiError(401, "invalid_token", f"the media link is not valid: {exc}") from None
    if claims.get("vid") != video_id:
        raise ApiError(401, "invalid_token", "the media link is for another video")
    user = await st.db.read(user_store.find_user, str(claims["sub"]))
    if user is None or not user["is_active"]:
        raise ApiError(401, "invalid_token", "the media link's account is gone or disabled")
    return viewer_of(user)


def media_token(st: WebState, video_id: str, user_id: str) -> str:
    """A signed media link token for *user_id* and *video_id*."""
    return issue_token(
        st.secret,
        {"sub": user_id, "vid": video_id},
        typ=TYP_MEDIA,
        now_s=st.now_s(),
        ttl_s=video_settings().media_token_ttl_s,
    )


def may_view(video: Video, viewer: Viewer) -> bool:
    return video["visibility"] != "private" or may_manage(video, viewer)


def may_manage(video: Video, viewer: Viewer) -> bool:
    """Owner or staff: may change and delete it, and always download it."""
    return viewer.user_id is not None and (viewer.is_staff or viewer.user_id == video["owner_id"])


def download_refusal(video: Video, viewer: Viewer, premium: bool) -> ApiError | None:
    """Why *viewer* may not download *video* (None: it may), for a video it may see.

    Args:
        video: The video.
        viewer: Who asks.
        premium: Whether the viewer's account is premium.
    """
    if may_manage(video, viewer):
        return None
    if not video["allow_download"]:
        return ApiError(403, "download_disabled", "the owner does not allow downloading this video")
    if video["is_premium"] and not premium:
        if viewer.user_id is None:
            return _auth_required("this is a premium video: sign in with a premium account")
        return ApiError(403, "premium_required", "downloading this video needs a premium account")
    return None


def require_view(video: Video, viewer: Viewer) -> None:
    """Raise 401 (signed out) or 403 ``private_video`` unless *viewer* may see it."""
    if may_view(video, viewer):
        return
    if viewer.user_id is None:
        raise _auth_required(f"video {video['id']} is private: sign in as its owner")
    raise ApiError(403, "private_video", f"video {video['id']} is private")


def require_manage(video: Video, viewer: Viewer) -> None:
    """Raise 403 ``forbidden`` unless *viewer* owns *video* or is staff."""
    require_view(video, viewer)
    if not may_manage(video, viewer):
        raise ApiError(403, "forbidden", "only the video's owner or staff may do that")


def not_found(video_id: str) -> ApiError:
    return ApiError(404, "video_not_found", f"no video has id {video_id!r}")


async def load_video(st: WebState, video_id: str) -> Video:
    """A video by id.

    Raises:
        ApiError: 404 ``video_not_found``.
    """
    video = None
    if video_store.is_video_id(video_id):
        video = await st.db.read(video_store.find_video, video_id)
    if video is None:
        raise not_found(video_id)
    return video


def _url(endpoint: str, video_id: str, token: str | None) -> str:
    url = url_for(endpoint, video_id=video_id, _external=True)
    return f"{url}?{urlencode({'token': token})}" if token else url


def video_json(
    st: WebState,
    video: Video,
    viewer: Viewer,
    *,
    reaction: bool | None = None,
    premium: bool = False,
) -> dict[str, Any]:
    """A video as the API shows it to *viewer*.

    Args:
        st: The app state (for signing links).
        video: The video.
        viewer: Who asks.
        reaction: The viewer's like (True), dislike (False) or neither (None).
        premium: Whether the viewer's account is premium.
    """
    vid = video["id"]
    stream_token = download_token = None
    if viewer.user_id is not None:
        download_token = media_token(st, vid, viewer.user_id)
        if video["visibility"] == "private":
            stream_token = download_token
    return {
        "id": vid,
        "title": video["title"],
        "description": video["description"],
        "visibility": video["visibility"],
        "allow_download": video["allow_download"],
        "is_premium": video["is_premium"],
        "owner": {"id": video["owner_id"], "display_name": video["owner_name"]},
        "content_type": video["content_type"],
        "size_bytes": video["size_bytes"],
        "duration_s": video["duration_s"],
        "view_count": video["view_count"],
        "like_count": video["like_count"],
        "dislike_count": video["dislike_count"],
        "comment_count": video["comment_count"],
        "download_count": video["download_count"],
        "stream_url": _url("videos.stream", vid, stream_token),
        "download_url": _url("videos.download", vid, download_token),
        "is_liked": reaction is True,
        "is_disliked": reaction is False,
        "can_download": download_refusal(video, viewer, premium) is None,
        "can_edit": may_manage(video, viewer),
        "created_at": iso_ms(video["created_at_ms"]),
        "updated_at": iso_ms(video["updated_at_ms"]),
    }


def _auth_required(message: str) -> ApiError:
    return ApiError(
        401,
        "authentication_required",
        message,
        headers={"WWW-Authenticate": 'Bearer realm="watchparty"'},
    )


async def room_media(st: WebState, video_id: str) -> dict[str, Any]:
    """The media a room plays for library video *video_id*, for
    ``POST /api/rooms/{room}/change-video/`` with ``video_id``.

    Public and unlisted videos only (see ``data.videos.playable_in_rooms``): the
    room hands its media URL to everyone in it.

    Raises:
        ApiError: 404 ``video_not_found``; 403 ``video_private`` for a private video.
    """
    video = await load_video(st, video_id)
    if not video_store.playable_in_rooms(video):
        raise ApiError(
            403,
            "video_private",
            f"video {video['id']} is private and cannot be played in rooms; make it unlisted "
            "to watch it with others",
            details=[("video_id", "private video")],
        )
    return video_store.room_media(video)
