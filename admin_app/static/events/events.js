// The event pages: /events/ (upcoming events, mine, a form to plan one) and
// /events/<id> (details, RSVP, add to calendar, the watch room when it is on).
// User text goes into the page through textContent only (dom.js el()).

import { el, showError } from "../watch/dom.js";
import { ApiError, freshToken, requestJson } from "../watch/identity.js";

const $ = (id) => document.getElementById(id);

/** "Fri 4 Dec, 21:00" in the visitor's own time zone, and the event's zone when it differs. */
export function when(event) {
  const options = { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" };
  const start = new Date(event.start_time);
  let text = start.toLocaleString(undefined, options);
  const mine = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (event.timezone && event.timezone !== mine && event.timezone !== "UTC") {
    text += ` (${start.toLocaleString(undefined, { ...options, timeZone: event.timezone })} ${event.timezone})`;
  }
  return text;
}

function eventItem(event) {
  const link = el("a", { text: event.title, attrs: { href: `/events/${encodeURIComponent(event.id)}` } });
  const status = event.status === "upcoming" ? "" : ` · ${event.status}`;
  return el("li", { attrs: { "data-event-id": event.id } }, [
    link,
    el("span", { cls: "when", text: `${when(event)}${status} · ${event.attending_count} attending` }),
  ]);
}

function fillList(list, empty, events) {
  list.replaceChildren(...events.map(eventItem));
  empty.hidden = events.length > 0;
}

async function listPage() {
  const token = await freshToken();
  $("signed-out").hidden = Boolean(token);
  try {
    const { data } = await requestJson("GET", "/api/events/upcoming/?page_size=50", { token });
    fillList($("upcoming"), $("upcoming-empty"), data.results || []);
  } catch (err) {
    showError($("upcoming-error"), err.message);
  }
  if (!token) return;
  $("mine-card").hidden = false;
  $("create-card").hidden = false;
  try {
    const { data } = await requestJson("GET", "/api/events/my/?page_size=50", { token });
    fillList($("mine"), $("mine-empty"), data.results || []);
    const feed = await requestJson("GET", "/api/events/calendar/", { token });
    $("calendar-link").href = feed.data.url;
    $("calendar-link").hidden = false;
  } catch (err) {
    showError($("upcoming-error"), err.message);
  }
  $("create-form").addEventListener("submit", (e) => { e.preventDefault(); createEvent(); });
}

/** A datetime-local value ("2026-12-04T21:00") as RFC 3339 with the browser's offset. */
export function withOffset(local) {
  const date = new Date(local);
  if (Number.isNaN(date.getTime())) return null;
  return date.toISOString();
}

async function createEvent() {
  const error = $("create-error");
  showError(error, "");
  const start = withOffset($("event-start").value);
  const end = withOffset($("event-end").value);
  if (!$("event-title").value.trim()) return showError(error, "Enter a title.");
  if (!start || !end) return showError(error, "Enter when it starts and ends.");
  const body = {
    title: $("event-title").value,
    description: $("event-description").value,
    start_time: start,
    end_time: end,
    timezone: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC",
    privacy: $("event-privacy").value,
    room: $("event-room").checked ? "new" : "none",
  };
  const capacity = $("event-capacity").value;
  if (capacity) body.max_attendees = Number(capacity);
  try {
    const token = await freshToken();
    const { data } = await requestJson("POST", "/api/events/", { body, token });
    window.location.assign(`/events/${encodeURIComponent(data.id)}`);
  } catch (err) {
    const detail = err instanceof ApiError && err.details.length ? `: ${err.details[0].message}` : "";
    showError(error, `${err.message}${detail}`);
  }
}

const STATUS_TEXT = {
  attending: "You attend.",
  maybe: "You may come.",
  not_attending: "You said you can't come.",
  pending: "Waiting for the organizer's approval.",
  denied: "The organizer declined your request.",
};

function showEvent(event, token) {
  $("event-loading").hidden = true;
  $("event-body").hidden = false;
  document.title = `${event.title} · watchparty`;
  $("event-title").textContent = event.title;
  const banner = $("event-banner");
  banner.hidden = !event.banner_url;
  if (event.banner_url) banner.src = event.banner_url;
  $("event-status").textContent = event.status;
  $("event-when").textContent = when(event);
  $("event-where").textContent = event.is_virtual ? (event.location || "Online") : event.location;
  $("event-organizer").textContent = `Organized by ${event.organizer.display_name}`;
  $("event-description").textContent = event.description;
  $("event-places").textContent = event.max_attendees === null
    ? `${event.attending_count} attending`
    : `${event.attending_count} attending, ${event.spots_left} of ${event.max_attendees} places left`;
  $("event-mine").textContent = STATUS_TEXT[event.my_status] || "";
  const open = event.status === "upcoming" || event.status === "ongoing";
  const canAnswer = Boolean(token) && open && !event.is_organizer && event.my_status !== "denied";
  $("rsvp-attending").hidden = !canAnswer || event.my_status === "attending";
  $("rsvp-maybe").hidden = !canAnswer || event.my_status === "maybe";
  $("rsvp-not").hidden = !canAnswer || !event.my_status || event.my_status === "not_attending";
  const room = $("room-link");
  room.hidden = !(event.room_url && event.status === "ongoing");
  if (event.room_url) room.href = event.room_url;
}

async function calendarLink(event, token) {
  const link = $("ics-link");
  link.setAttribute("download", `${event.title}.ics`);
  if (event.privacy === "public") {
    link.href = event.ics_url;
    return;
  }
  // A private event's calendar file needs the sign-in: fetch it, hand over a blob.
  const response = await fetch(event.ics_url, { headers: { Authorization: `Bearer ${token}` } });
  if (response.ok) link.href = URL.createObjectURL(await response.blob());
}

async function detailPage(root) {
  const id = root.dataset.eventId;
  const token = await freshToken();
  const url = `/api/events/${encodeURIComponent(id)}/`;
  let event;
  try {
    event = (await requestJson("GET", url, { token })).data;
  } catch (err) {
    $("event-loading").hidden = true;
    const text = err.status === 404 ? "No such event, or it is not shared with you." : err.message;
    return showError($("event-error"), text);
  }
  showEvent(event, token);
  await calendarLink(event, token);
  const answer = async (status) => {
    showError($("rsvp-error"), "");
    try {
      const { data } = await requestJson("POST", `${url}rsvp/`, { body: { status }, token: await freshToken() });
      showEvent(data.event, token);
    } catch (err) {
      showError($("rsvp-error"), err.message);
    }
  };
  $("rsvp-attending").addEventListener("click", () => answer("attending"));
  $("rsvp-maybe").addEventListener("click", () => answer("maybe"));
  $("rsvp-not").addEventListener("click", () => answer("not_attending"));
}

const root = $("event");
if (root) detailPage(root);
else if ($("upcoming")) listPage();
