// The watch page shows the event its room is for: the next one not ended (GET
// /api/events/search/?room=<code>, events the visitor may see), linked to its page.

import { freshToken, requestJson } from "../watch/identity.js";
import { when } from "./events.js";

async function showRoomEvent() {
  const app = document.getElementById("app");
  const line = document.getElementById("room-event");
  if (!app || !line) return;
  const query = new URLSearchParams({ room: app.dataset.room, page_size: "1" });
  try {
    const { data } = await requestJson("GET", `/api/events/search/?${query}`, { token: await freshToken() });
    const event = (data.results || [])[0];
    if (!event) return;
    const link = document.getElementById("room-event-link");
    link.textContent = event.title;
    link.href = `/events/${encodeURIComponent(event.id)}`;
    document.getElementById("room-event-when").textContent = when(event);
    line.hidden = false;
  } catch {
    // No events API, or nothing to show: the room works without it.
  }
}

showRoomEvent();
