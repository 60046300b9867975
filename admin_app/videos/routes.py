"""The video library over REST: upload, list, detail, update, delete, streaming with
byte ranges, downloads, likes, and the premium flag of accounts. Comments are in
:mod:`admin_app.videos.comment_routes`.

Files live in ``media_dir`` as ``<video id><extension>``: names the server makes up,
never a path from the client. Who may do what is in :mod:`admin_app.videos.service`.

Streaming and downloads (RFC 9110): ``Accept-Ranges: bytes``; one range (``bytes=
100-199``, open-ended ``bytes=100-``, suffix ``bytes=-500``) answers 206 with
``Content-Range``; a range past the end answers 416 with ``Content-Range: bytes
*/<size>`` and the one error body; several ranges, or a header that does not parse,
get the whole file (200). Strong ``ETag`` and ``Last-Modified`` drive
``If-None-Match`` and ``If-Modified-Since`` (304), ``If-Match`` and
``If-Unmodified-Since`` (412) and ``If-Range`` (a stale one gets the whole file).
A view is counted per stream request from byte 0, a download per download request
from byte 0 (resumed downloads are not counted twice).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio
from pydantic import ValidationError
from quart import Response, current_app, request
from quart_schema import (
    DataSource,
    document_headers,
    document_querystring,
    document_request,
    document_response,
    security_scheme,
    validate_querystring,
    validate_request,
)

from admin_app.core.caller import require_caller
from admin_app.core.errors import (
    ApiError,
    documents_errors,
    documents_no_content,
    validation_details,
)
from admin_app.core.openapi import BEARER, OPTIONAL_BEARER, documents_file
from admin_app.core.pagination import Page, PageQuery, page_of
from admin_app.core.state import WebState, state
from admin_app.core.times import iso_ms
from data import NotFoundError
from data import videos as video_store
from data.videos import Video

from . import bp, premium_bp
from .media import FileRangeBody as _FileRangeBody
from .media import (
    FileRequestHeaders,
    MediaLinkQuery,
    RangeNotSatisfiable,
    Validators,
    attachment,
    check_preconditions,
    download_name,
    parse_range,
    probe_duration_s,
    range_applies,
)
from .schemas import (
    DownloadOut,
    LikeIn,
    LikeOut,
    PremiumIn,
    PremiumOut,
    VideoListQuery,
    VideoOut,
    VideoUpdateIn,
    VideoUploadForm,
    VideoUploadIn,
)
from .service import (
    EXTENSION_KEY,
    VideoSettings,
    Viewer,
    current_viewer,
    download_refusal,
    load_video,
    not_found,
    require_manage,
    require_view,
    video_json,
    video_settings,
    viewer_of,
)
from .uploads import (
    FORM_OVERHEAD_BYTES,
    PARTIAL_PREFIX,
    receive_upload,
    remove_quietly,
    upload_request_class,
)

logger = logging.getLogger(__name__)

#: Partial uploads older than this are left-overs of a crash, removed at start, seconds.
STALE_PARTIAL_S = 86_400.0


@bp.record_once
def _setup(setup_state: Any) -> None:
    """Read the video settings, make the media directory, let upload requests carry
    bodies of up to ``max_upload_bytes``, and remove partial uploads a crash left."""
    app = setup_state.app
    settings = VideoSettings.from_config(app.extensions["watchparty"].config)
    app.extensions[EXTENSION_KEY] = settings
    app.request_class = upload_request_class(
        app.request_class, settings.max_upload_bytes + FORM_OVERHEAD_BYTES
    )
    settings.media_dir.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - STALE_PARTIAL_S
    for leftover in settings.media_dir.glob(f"{PARTIAL_PREFIX}*.part"):
        try:
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
                logger.info("removed the partial upload %s left by a crash", leftover.name)
        except OSError:
            logger.warning("could not remove the partial upload %s", leftover, exc_info=True)


# --- library --------------------------------------------------------------------------------


@bp.get("/")
@validate_querystring(VideoListQuery)
@security_scheme(OPTIONAL_BEARER)
@document_response(Page[VideoOut], 200)
@documents_errors(401, 404, 422)
async def list_videos(query_args: VideoListQuery) -> dict[str, Any]:
    """Videos, paginated: public ones and the caller's own (staff: all).

    Unlisted videos are listed for their owner (and staff) only. `search` matches
    words in the title or description; `owner` (`me` for the caller), `visibility`
    and `is_premium` filter; `ordering` sorts (`-created_at` by default).
    """
    st = state()
    viewer = await current_viewer(st)
    owner = query_args.owner
    if owner == "me":
        if viewer.user_id is None:
            raise ApiError(401, "authentication_required", "owner=me needs a signed-in caller")
        owner = viewer.user_id
    count, videos = await st.db.read(
        lambda conn: video_store.list_videos(
            conn,
            viewer_id=viewer.user_id,
            viewer_is_staff=viewer.is_staff,
            search=query_args.search,
            owner_id=owner,
            visibility=query_args.visibility,
            is_premium=query_args.is_premium,
            ordering=query_args.ordering,
            offset=query_args.offset,
            limit=query_args.page_size,
        )
    )
    premium = await st.db.read(video_store.is_premium, viewer.user_id)
    return page_of(count, [video_json(st, v, viewer, premium=premium) for v in videos], query_args)


@bp.post("/")
@document_request(VideoUploadForm, source=DataSource.FORM_MULTIPART)
@security_scheme(BEARER)
@document_response(VideoOut, 201)
@documents_errors(400, 401, 403, 408, 413, 415, 422, 507)
async def upload() -> tuple[dict[str, Any], int]:
    """Upload a video (`multipart/form-data`, the file in `file`).

    Streamed to disk as it arrives. 413 over `max_upload_bytes`; 415 when the file's
    content is not a video container (its name does not matter). The duration comes
    from ffprobe when the server has it. Guests may not upload.
    """
    try:
        return await _upload()
    except ApiError as exc:
        # Refused before the body was read to its end (too large, not a video, not
        # allowed): the rest of it must not be taken for the next request on the
        # connection, so it is closed after this answer.
        exc.headers.setdefault("Connection", "close")
        raise


async def _upload() -> tuple[dict[str, Any], int]:
    st = state()
    caller = await require_caller(st)
    if caller.user["is_guest"]:
        raise ApiError(403, "guests_cannot_upload", "guests may not upload videos; register")
    settings = video_settings()
    received = await receive_upload(
        request, media_dir=settings.media_dir, max_file_bytes=settings.max_upload_bytes
    )
    final: Path | None = None
    try:
        fields = _upload_fields(received.fields)
        title = fields.title or _title_from(received.filename)
        duration_s = await probe_duration_s(received.path, settings.ffprobe_path)
        video_id = video_store.new_video_id()
        file_name = f"{video_id}{received.video_type.extension}"
        final = settings.media_dir / file_name
        await trio.to_thread.run_sync(os.replace, received.path, final)
        video = await st.db.write(
            lambda conn: video_store.create_video(
                conn,
                video_id=video_id,
                owner_id=caller.user_id,
                title=title,
                description=fields.description,
                visibility=fields.visibility,
                allow_download=fields.allow_download,
                is_premium=fields.is_premium,
                file_name=file_name,
                original_filename=received.filename[:255],
                content_type=received.video_type.mime,
                size_bytes=received.size_bytes,
                duration_s=duration_s,
                now_ms=st.now_ms(),
            )
        )
    except BaseException:
        await remove_quietly(received.path)
        if final is not None:
            await remove_quietly(final)
        raise
    logger.info(
        "account %s uploaded video %s (%s, %d bytes)",
        caller.user_id,
        video["id"],
        video["content_type"],
        video["size_bytes"],
    )
    return video_json(st, video, viewer_of(caller.user)), 201


bp.add_url_rule("/upload/", "upload_alias", upload, methods=["POST"])


def _upload_fields(fields: dict[str, str]) -> VideoUploadIn:
    # A form's empty title field means "no title": the file name is used instead.
    values = {k: v for k, v in fields.items() if not (k == "title" and not v.strip())}
    try:
        return VideoUploadIn.model_validate(values)
    except ValidationError as exc:
        raise ApiError(
            422,
            "validation_error",
            "the upload form is not valid",
            details=validation_details(exc),
        ) from None


def _title_from(filename: str) -> str:
    stem = Path(filename.replace("\\", "/")).stem if filename else ""
    stem = " ".join("".join(ch if ch.isprintable() else " " for ch in stem).split())
    return stem[:200] or "Untitled video"


@bp.get("/<video_id>/")
@security_scheme(OPTIONAL_BEARER)
@document_response(VideoOut, 200)
@documents_errors(401, 403, 404)
async def detail(video_id: str) -> dict[str, Any]:
    """A video (private ones: owner and staff only), with the caller's reaction and
    stream and download links (signed where the caller's identity is needed)."""
    st = state()
    viewer = await current_viewer(st)
    video = await load_video(st, video_id)
    require_view(video, viewer)
    return await _video_for(st, video, viewer)


async def _video_for(st: WebState, video: Video, viewer: Viewer) -> dict[str, Any]:
    def read(conn: Any) -> tuple[bool | None, bool]:
        return (
            video_store.reaction_of(conn, video["id"], viewer.user_id),
            video_store.is_premium(conn, viewer.user_id),
        )

    reaction, premium = await st.db.read(read)
    return video_json(st, video, viewer, reaction=reaction, premium=premium)


@bp.route("/<video_id>/", methods=["PATCH", "PUT"])
@validate_request(VideoUpdateIn)
@security_scheme(BEARER)
@document_response(VideoOut, 200)
@documents_errors(400, 401, 403, 404, 413, 415, 422)
async def update(video_id: str, data: VideoUpdateIn) -> dict[str, Any]:
    """Change a video's title, description, visibility, `allow_download` or
    `is_premium` (owner or staff). Fields left out (or null) stay as they are."""
    st = state()
    caller = await require_caller(st)
    viewer = viewer_of(caller.user)
    video = await load_video(st, video_id)
    require_manage(video, viewer)
    try:
        video = await st.db.write(
            video_store.update_video, video["id"], data.changes(), st.now_ms()
        )
    except NotFoundError:
        raise not_found(video_id) from None
    return await _video_for(st, video, viewer)


@bp.delete("/<video_id>/")
@security_scheme(BEARER)
@documents_errors(401, 403, 404)
@documents_no_content
async def delete(video_id: str) -> tuple[str, int]:
    """Delete a video with its file, comments, likes and download records (owner or
    staff)."""
    st = state()
    caller = await require_caller(st)
    video = await load_video(st, video_id)
    require_manage(video, viewer_of(caller.user))
    file_name = await st.db.write(video_store.delete_video, video["id"])
    if file_name is None:
        raise not_found(video_id)
    await remove_quietly(video_settings().media_dir / file_name)
    logger.info("account %s deleted video %s", caller.user_id, video["id"])
    return "", 204


# --- streaming and downloads ------------------------------------------------------------


@bp.get("/<video_id>/stream/")
@document_querystring(MediaLinkQuery)
@document_headers(FileRequestHeaders)
@security_scheme(OPTIONAL_BEARER)
@documents_file()
@documents_errors(401, 403, 404, 412, 416)
async def stream(video_id: str) -> Response:
    """The video file for players, with byte ranges and conditional requests.

    Public and unlisted videos: anyone with the link. Private ones: the owner and
    staff, by bearer token or the signed `?token=` of the video's `stream_url`.
    """
    st = state()
    viewer = await current_viewer(st, video_id=video_id)
    video = await load_video(st, video_id)
    require_view(video, viewer)

    async def count_view() -> None:
        await st.db.write(video_store.add_view, video["id"])

    return await send_video(video, on_start=count_view)


@bp.get("/<video_id>/download/")
@document_querystring(MediaLinkQuery)
@document_headers(FileRequestHeaders)
@security_scheme(OPTIONAL_BEARER)
@documents_file(attachment=True)
@documents_errors(401, 403, 404, 412, 416)
async def download(video_id: str) -> Response:
    """The video file as an attachment.

    Owner and staff always; others who may see the video when `allow_download` is on,
    and for premium videos with a premium account. Each download is recorded.
    """
    st = state()
    viewer = await current_viewer(st, video_id=video_id)
    video = await load_video(st, video_id)
    require_view(video, viewer)
    premium = await st.db.read(video_store.is_premium, viewer.user_id)
    refusal = download_refusal(video, viewer, premium)
    if refusal is not None:
        raise refusal

    async def record() -> None:
        try:
            await st.db.write(video_store.record_download, video["id"], viewer.user_id, st.now_ms())
        except NotFoundError:
            raise not_found(video_id) from None

    extension = Path(video["file_name"]).suffix
    disposition = attachment(download_name(video["title"], extension))
    return await send_video(video, on_start=record, disposition=disposition)


async def send_video(
    video: Video,
    *,
    on_start: Callable[[], Awaitable[None]] | None = None,
    disposition: str | None = None,
) -> Response:
    """Answer the current GET or HEAD with (part of) a video's file.

    Args:
        video: The video, already allowed.
        on_start: Awaited before a GET is answered from byte 0 (200, or 206 from 0):
            counts a view or a download.
        disposition: A ``Content-Disposition`` value, for downloads.

    Raises:
        ApiError: 404 ``video_file_missing`` when the file is gone; 412
            ``precondition_failed``; 416 ``range_not_satisfiable``.
    """
    path = video_settings().media_dir / video["file_name"]
    try:
        info = await trio.Path(path).stat()
    except FileNotFoundError:
        logger.error("video %s: its file %s is missing", video["id"], path)
        raise ApiError(404, "video_file_missing", "the video's file is missing") from None
    size = info.st_size
    validators = Validators.for_file(video["id"], size, info.st_mtime_ns)
    headers = {
        **validators.headers(),
        "Accept-Ranges": "bytes",
        # Browsers may keep a copy but must revalidate (the ETag makes that cheap):
        # a video made private must not stay visible from a shared cache.
        "Cache-Control": "private, no-cache",
    }
    if disposition is not None:
        headers["Content-Disposition"] = disposition
    outcome = check_preconditions(request.headers, request.method, validators)
    if outcome == 304:
        response = current_app.response_class(b"", status=304, headers=headers)
        del response.headers["Content-Length"]
        return response
    if outcome == 412:
        raise ApiError(412, "precondition_failed", "the video changed since the copy named")
    range_header = (
        request.headers.get("Range") if range_applies(request.headers, validators) else None
    )
    try:
        byte_range = parse_range(range_header, size)
    except RangeNotSatisfiable:
        raise ApiError(
            416,
            "range_not_satisfiable",
            f"expected a byte range within the video's {size} bytes, got {range_header}",
            headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"},
        ) from None
    if byte_range is None:
        start, length, status = 0, size, 200
    else:
        start, last = byte_range
        length, status = last - start + 1, 206
        headers["Content-Range"] = f"bytes {start}-{last}/{size}"
    if on_start is not None and start == 0 and request.method == "GET":
        await on_start()
    body: Any = b"" if request.method == "HEAD" else _FileRangeBody(path, start, length)
    response = current_app.response_class(
        body, status=status, headers=headers, content_type=video["content_type"]
    )
    response.headers["Content-Length"] = str(length)
    # Quart cuts responses off after RESPONSE_TIMEOUT (60 s): far too short for a
    # film on a slow link. The transfer ends when the client stops reading instead.
    response.timeout = None
    return response


@bp.get("/<video_id>/downloads/")
@validate_querystring(PageQuery)
@security_scheme(BEARER)
@document_response(Page[DownloadOut], 200)
@documents_errors(401, 403, 404, 422)
async def downloads(video_id: str, query_args: PageQuery) -> dict[str, Any]:
    """Who downloaded a video and when, newest first (owner or staff)."""
    st = state()
    caller = await require_caller(st)
    video = await load_video(st, video_id)
    require_manage(video, viewer_of(caller.user))
    count, rows = await st.db.read(
        lambda conn: video_store.list_downloads(
            conn, video["id"], offset=query_args.offset, limit=query_args.page_size
        )
    )
    results = [
        {"id": r["id"], "user_id": r["user_id"], "created_at": iso_ms(r["created_at_ms"])}
        for r in rows
    ]
    return page_of(count, results, query_args)


# --- likes ----------------------------------------------------------------------------------


@bp.post("/<video_id>/like/")
@validate_request(LikeIn)
@security_scheme(BEARER)
@document_response(LikeOut, 200)
@documents_errors(400, 401, 403, 404, 413, 415, 422)
async def like(video_id: str, data: LikeIn) -> dict[str, Any]:
    """Like (`is_like` true) or dislike (false) a video; the same again takes it back.

    Answers `{"success": true, "is_liked": ..., "like_count": ...}` (the Watch
    Party shape): `is_liked` is whether the caller likes the video now.
    """
    st = state()
    caller = await require_caller(st)
    video = await load_video(st, video_id)
    require_view(video, viewer_of(caller.user))
    try:
        result = await st.db.write(
            video_store.toggle_like, video["id"], caller.user_id, data.is_like, st.now_ms()
        )
    except NotFoundError:
        raise not_found(video_id) from None
    return {
        "success": True,
        "is_liked": result["reaction"] is True,
        "like_count": result["like_count"],
    }


# --- premium --------------------------------------------------------------------------------


@premium_bp.put("/<user_id>/premium/")
@validate_request(PremiumIn)
@security_scheme(BEARER)
@document_response(PremiumOut, 200)
@documents_errors(400, 401, 403, 404, 413, 415, 422)
async def set_premium(user_id: str, data: PremiumIn) -> dict[str, Any]:
    """Make an account premium or not (admins only; there are no payments)."""
    st = state()
    caller = await require_caller(st)
    if caller.user["role"] != "admin":
        raise ApiError(403, "forbidden", "only admins may change premium accounts")
    try:
        await st.db.write(video_store.set_premium, user_id, data.is_premium)
    except NotFoundError:
        raise ApiError(404, "user_not_found", f"no account has id {user_id!r}") from None
    logger.info(
        "admin %s set premium of account %s to %s", caller.user_id, user_id, data.is_premium
    )
    return {"user_id": user_id, "is_premium": data.is_premium}
