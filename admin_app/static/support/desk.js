// The staff desk: the ticket queue with filters, and a ticket with its whole thread
// (internal notes marked), reply, internal note, assign to me and status. Staff only:
// the API refuses anyone else (the page then shows the error). User text goes in
// through textContent only.

import { el, showError } from "../watch/dom.js";
import { ApiError, freshToken, requestJson, tokenClaims } from "../watch/identity.js";

const $ = (id) => document.getElementById(id);
let current = null;
let me = null;

function problem(err) {
  const first = err instanceof ApiError && err.details && err.details[0];
  return first ? `${first.field}: ${first.message}` : err.message;
}

async function api(method, url, body = undefined) {
  return (await requestJson(method, url, { body, token: await freshToken() })).data;
}

async function loadQueue() {
  showError($("desk-error"), "");
  const params = new URLSearchParams({ page_size: "100" });
  if ($("filter-status").value) params.set("status", $("filter-status").value);
  if ($("filter-assignee").value) params.set("assignee", $("filter-assignee").value);
  try {
    const page = await api("GET", `/api/support/tickets/?${params}`);
    $("queue").replaceChildren(
      ...page.results.map((t) => {
        const button = el("button", {
          text: `#${t.id} [${t.priority}] ${t.subject}`,
          cls: "link-button",
          attrs: { type: "button", "data-ticket-id": String(t.id) },
        });
        button.addEventListener("click", () => openTicket(t.id));
        const who = t.assignee ? t.assignee.display_name : "unassigned";
        return el("li", {}, [button, el("span", { text: ` ${t.status} · ${t.requester.display_name} · ${who}`, cls: "muted" })]);
      }),
    );
  } catch (err) {
    showError($("desk-error"), `Could not load the queue: ${problem(err)}`);
  }
}

function render(ticket) {
  current = ticket;
  $("desk-ticket").hidden = false;
  $("desk-ticket-subject").textContent = `#${ticket.id} ${ticket.subject}`;
  const who = ticket.assignee ? ticket.assignee.display_name : "nobody";
  $("desk-ticket-meta").textContent =
    `${ticket.status} · ${ticket.priority} · ${ticket.category} · from ${ticket.requester.display_name} <${ticket.contact_email || "no email"}> · assigned to ${who}`;
  $("desk-ticket-description").textContent = ticket.description;
  $("desk-thread").replaceChildren(
    ...ticket.messages.map((m) =>
      el("li", { cls: m.is_internal ? "staff internal" : m.from_staff ? "staff" : "mine" }, [
        el("strong", { text: `${m.author.display_name || "?"}${m.is_internal ? " (internal note)" : ""}` }),
        el("div", { text: m.body, cls: "body" }),
      ]),
    ),
  );
  const select = $("desk-status");
  select.replaceChildren(
    el("option", { text: `Status: ${ticket.status}`, attrs: { value: "" } }),
    ...ticket.allowed_statuses.map((s) => el("option", { text: `Move to ${s}`, attrs: { value: s } })),
  );
}

async function openTicket(id) {
  showError($("desk-error"), "");
  try {
    render(await api("GET", `/api/support/tickets/${id}/`));
  } catch (err) {
    showError($("desk-error"), `Could not open the ticket: ${problem(err)}`);
  }
}

async function act(fn) {
  showError($("desk-error"), "");
  try {
    await fn();
    await openTicket(current.id);
    await loadQueue();
  } catch (err) {
    showError($("desk-error"), problem(err));
  }
}

async function start() {
  const claims = tokenClaims((await freshToken()) || "");
  me = claims ? claims.sub : null;
  $("desk-identity").textContent = claims ? `Signed in as ${claims.name || claims.sub}` : "Sign in on the start page with a staff account.";
  $("queue-filters").addEventListener("submit", (event) => { event.preventDefault(); loadQueue(); });
  $("desk-reply-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const internal = event.submitter && event.submitter.value === "note";
    const body = $("desk-reply-body").value;
    if (!body.trim()) return showError($("desk-error"), "Write something first.");
    act(async () => {
      await api("POST", `/api/support/tickets/${current.id}/reply/`, { body, internal });
      $("desk-reply-body").value = "";
    });
  });
  $("desk-assign-me").addEventListener("click", () =>
    act(() => api("POST", `/api/support/tickets/${current.id}/assign/`, { assignee_id: me })));
  $("desk-status").addEventListener("change", () => {
    const status = $("desk-status").value;
    if (status) act(() => api("POST", `/api/support/tickets/${current.id}/status/`, { status }));
  });
  await loadQueue();
  document.body.dataset.ready = "true";
}

start();
