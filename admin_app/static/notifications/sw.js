// The watchparty service worker: shows Web Push notifications (RFC 8030 messages,
// decrypted by the browser) and opens their link when one is clicked.
//
// Payload (JSON, from admin_app/notifications/service.py):
//   {"id": 7, "kind": "event_reminder", "title": "...", "body": "...", "url": "https://..."|null}
"use strict";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { body: event.data ? event.data.text() : "" };
  }
  const title = typeof data.title === "string" && data.title ? data.title : "watchparty";
  const options = {
    body: typeof data.body === "string" ? data.body : "",
    data: { url: typeof data.url === "string" ? data.url : "/" },
  };
  if (data.id !== undefined) options.tag = `watchparty-${data.id}`;
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  // Only pages of this server are opened: a link elsewhere opens the start page.
  let target = new URL("/", self.location.origin);
  try {
    const url = new URL(event.notification.data.url || "/", self.location.origin);
    if (url.origin === self.location.origin) target = url;
  } catch { /* keep the start page */ }
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    for (const client of windows) {
      if (client.url === target.href && "focus" in client) return client.focus();
    }
    return self.clients.openWindow(target.href);
  })());
});
