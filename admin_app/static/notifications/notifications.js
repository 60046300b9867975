// The notification bell in the page header, and Web Push opt-in.
//
// Mounted into #notification-bell when the visitor is signed in (the stored access
// token, identity.js), again whenever the sign-in changes. The bell shows the unread count (GET
// /api/notifications/unread-count/, again every minute); opening it lists the newest
// notifications with "Mark read", "Mark all read", and "Notify me on this device",
// which registers the service worker (sw.js), asks the browser's permission,
// subscribes with the server's VAPID key and stores the subscription
// (POST /api/notifications/push/subscriptions/). Text goes in through textContent only.

import { freshToken, SESSION_EVENT } from "../watch/identity.js";
import { el, showError } from "../watch/dom.js";

const REFRESH_MS = 60_000;
const SW_URL = "/static/notifications/sw.js";
const SW_SCOPE = "/static/notifications/";

async function api(method, path, token, body = undefined) {
  const headers = { Accept: "application/json", Authorization: `Bearer ${token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, cache: "no-store", body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await response.json(); } catch { data = null; }
  if (!response.ok) {
    const message = (data && data.error && data.error.message) || `${response.status} ${response.statusText}`;
    throw new Error(message);
  }
  return data;
}

/** Whether this browser can receive Web Push here (secure context, APIs present). */
export function pushSupported() {
  return window.isSecureContext && "serviceWorker" in navigator && "PushManager" in window
    && "Notification" in window;
}

function keyBytes(base64url) {
  const padded = base64url.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((base64url.length + 3) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

/** Resolves once *registration* has an active worker. (Not serviceWorker.ready: that
 * waits for a worker whose scope covers this page, and the pages are outside
 * SW_SCOPE; a push subscription needs only an active worker.) */
export function activated(registration) {
  if (registration.active) return Promise.resolve(registration.active);
  const worker = registration.installing || registration.waiting;
  return new Promise((resolve, reject) => {
    worker.addEventListener("statechange", () => {
      if (worker.state === "activated") resolve(worker);
      else if (worker.state === "redundant") reject(new Error("The notification service worker failed to start."));
    });
  });
}

/** The push subscription of this browser for this server, or null. */
export async function currentSubscription() {
  if (!pushSupported()) return null;
  const registration = await navigator.serviceWorker.getRegistration(SW_SCOPE);
  return registration ? registration.pushManager.getSubscription() : null;
}

/** Register the service worker, subscribe, and store the subscription on the server.
 * Throws an Error saying why when the browser or the visitor refuses. */
export async function enablePush(token) {
  if (!pushSupported()) throw new Error("This browser cannot receive notifications from this page.");
  const permission = await Notification.requestPermission();
  if (permission !== "granted") throw new Error("Notifications are blocked for this site in the browser.");
  const registration = await navigator.serviceWorker.register(SW_URL, { scope: SW_SCOPE });
  await activated(registration);
  const { public_key: key } = await api("GET", "/api/notifications/push/vapid-public-key/", token);
  let subscription = await registration.pushManager.getSubscription();
  if (!subscription) {
    subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true, applicationServerKey: keyBytes(key),
    });
  }
  await api("POST", "/api/notifications/push/subscriptions/", token, {
    ...subscription.toJSON(), user_agent: navigator.userAgent.slice(0, 300),
  });
  return subscription;
}

/** Remove this browser's subscription, here and on the server. */
export async function disablePush(token) {
  const subscription = await currentSubscription();
  if (!subscription) return;
  try {
    await api("POST", "/api/notifications/push/unsubscribe/", token, { endpoint: subscription.endpoint });
  } finally {
    await subscription.unsubscribe();
  }
}

function safeHref(url) {
  return typeof url === "string" && /^(\/(?!\/)|https?:\/\/)/.test(url) ? url : null;
}

let refreshTimer = null;
let mounts = 0;

/** Put the bell in *root* (an element in the header), or empty it when signed out.
 * A later call replaces an earlier one still in progress. */
export async function mountBell(root) {
  const mount = ++mounts;
  clearInterval(refreshTimer);
  let token = await freshToken();
  if (mount !== mounts) return;
  if (!token) {
    root.replaceChildren();
    return;
  }
  const count = el("span", { cls: "bell-count", text: "0", attrs: { "aria-hidden": "true" } });
  const button = el("button", {
    cls: "bell-button",
    attrs: { type: "button", "aria-expanded": "false", "aria-controls": "notification-panel", "aria-label": "Notifications" },
  }, [el("span", { text: "🔔", attrs: { "aria-hidden": "true" } }), count]);
  const list = el("ul", { cls: "notification-list", attrs: { id: "notification-list" } });
  const empty = el("p", { cls: "muted", text: "No notifications.", attrs: { id: "notification-empty" } });
  const error = el("p", { cls: "form-error", attrs: { role: "alert" } });
  error.hidden = true;
  const markAll = el("button", { text: "Mark all read", attrs: { type: "button", id: "notification-read-all" } });
  const push = el("button", { text: "Notify me on this device", attrs: { type: "button", id: "notification-push" } });
  push.hidden = !pushSupported();
  const panel = el("section", {
    cls: "notification-panel", attrs: { id: "notification-panel", "aria-label": "Notifications" },
  }, [el("p", { cls: "notification-actions" }, [markAll, push]), error, list, empty]);
  panel.hidden = true;
  root.replaceChildren(button, panel);

  async function call(method, path, body) {
    token = (await freshToken()) || token;
    return api(method, path, token, body);
  }

  function setCount(n) {
    count.textContent = n > 99 ? "99+" : String(n);
    count.hidden = n === 0;
    button.setAttribute("aria-label", n ? `Notifications, ${n} unread` : "Notifications");
    root.dataset.unread = String(n);
  }

  async function refreshCount() {
    try {
      setCount((await call("GET", "/api/notifications/unread-count/")).unread_count);
    } catch { /* the count stays as it was; the next refresh tries again */ }
  }

  function item(n) {
    const title = safeHref(n.url)
      ? el("a", { text: n.title, attrs: { href: safeHref(n.url) } })
      : el("strong", { text: n.title });
    const when = el("time", { cls: "muted", text: new Date(n.created_at).toLocaleString(), attrs: { datetime: n.created_at } });
    const li = el("li", { cls: n.is_read ? "notification read" : "notification unread" }, [
      title, el("p", { text: n.body }), when,
    ]);
    if (!n.is_read) {
      const read = el("button", { text: "Mark read", cls: "link-button", attrs: { type: "button" } });
      read.addEventListener("click", async () => {
        try {
          await call("POST", `/api/notifications/${n.id}/read/`);
          await render();
        } catch (err) { showError(error, err.message); }
      });
      li.append(read);
    }
    return li;
  }

  async function render() {
    showError(error, "");
    try {
      const page = await call("GET", "/api/notifications/?page_size=20");
      list.replaceChildren(...page.results.map(item));
      empty.hidden = page.results.length > 0;
    } catch (err) { showError(error, err.message); }
    await refreshCount();
  }

  async function renderPush() {
    const subscribed = !!(await currentSubscription().catch(() => null));
    push.textContent = subscribed ? "Stop notifications on this device" : "Notify me on this device";
    push.dataset.subscribed = String(subscribed);
  }

  button.addEventListener("click", async () => {
    panel.hidden = !panel.hidden;
    button.setAttribute("aria-expanded", String(!panel.hidden));
    if (!panel.hidden) {
      await render();
      if (pushSupported()) await renderPush();
    }
  });
  markAll.addEventListener("click", async () => {
    try {
      await call("POST", "/api/notifications/read-all/");
      await render();
    } catch (err) { showError(error, err.message); }
  });
  push.addEventListener("click", async () => {
    push.disabled = true;
    showError(error, "");
    try {
      if (push.dataset.subscribed === "true") await disablePush(token);
      else await enablePush(token);
    } catch (err) {
      showError(error, err.message);
    } finally {
      push.disabled = false;
      await renderPush();
    }
  });
  setCount(0);
  await refreshCount();
  if (mount === mounts) refreshTimer = setInterval(refreshCount, REFRESH_MS);
}

const root = document.getElementById("notification-bell");
if (root) {
  mountBell(root);
  // Signing in or out on the page (identity.js) shows or hides the bell.
  window.addEventListener(SESSION_EVENT, () => mountBell(root));
}
