// The help page: FAQ with search and "was this helpful", opening a ticket (as the
// signed-in account, or as a guest with an email), my tickets with their threads, and
// the feedback board with votes. Everything goes through the REST API
// (/api/support/...). User text is inserted with textContent only; the one HTML
// inserted is a FAQ answer's answer_html, which the server rendered from Markdown and
// sanitised (markdown-it-py with HTML off, then nh3).

import { el, showError } from "../watch/dom.js";
import { ApiError, freshToken, guestSignIn, requestJson, storedName, storeName, tokenClaims } from "../watch/identity.js";

const $ = (id) => document.getElementById(id);
const STATUS_TEXT = {
  open: "Open",
  in_progress: "In progress",
  waiting_on_user: "Waiting for you",
  resolved: "Solved",
  closed: "Closed",
};

let currentTicket = null;

function problem(err) {
  const first = err instanceof ApiError && err.details && err.details[0];
  return first ? `${first.field}: ${first.message}` : err.message;
}

async function api(method, url, body = undefined, { auth = true } = {}) {
  const token = auth ? await freshToken() : null;
  return (await requestJson(method, url, { body, token })).data;
}

function renderIdentity(token) {
  const claims = token ? tokenClaims(token) : null;
  const text = !claims
    ? "Not signed in: you can still read the answers and ask us as a guest."
    : claims.guest
      ? `Guest: ${claims.name || "guest"}`
      : `Signed in as ${claims.name || claims.sub}`;
  $("identity").textContent = text;
  const needsEmail = !claims || claims.guest;
  $("ticket-email-field").hidden = !needsEmail;
  $("ticket-name-field").hidden = !!claims;
  $("ticket-name").value = storedName();
}

// --- FAQ -------------------------------------------------------------------------------

async function loadFaq(search = "") {
  const error = $("faq-error");
  showError(error, "");
  const params = new URLSearchParams({ page_size: "100" });
  if (search) params.set("search", search);
  try {
    const page = await api("GET", `/api/support/faq/?${params}`);
    const list = $("faq-list");
    list.replaceChildren(...page.results.map(faqItem));
    $("faq-empty").hidden = page.results.length > 0;
  } catch (err) {
    showError(error, `Could not load the questions: ${problem(err)}`);
  }
}

function faqItem(entry) {
  const answer = el("div", { cls: "faq-answer" });
  const status = el("span", { cls: "muted" });
  const yes = el("button", { text: "Yes", attrs: { type: "button" } });
  const no = el("button", { text: "No", attrs: { type: "button" } });
  const helpful = el("p", { cls: "helpful" }, [el("span", { text: "Was this helpful?" }), yes, no, status]);
  const details = el("details", { attrs: { "data-faq-id": String(entry.id) } }, [
    el("summary", { text: entry.question }),
    answer,
    helpful,
  ]);
  const show = (data) => {
    // Sanitised on the server (see the module comment); never user text from here.
    answer.innerHTML = data.answer_html;
    status.textContent = `${data.helpful_count} found this helpful`;
    yes.setAttribute("aria-pressed", String(data.my_vote === true));
    no.setAttribute("aria-pressed", String(data.my_vote === false));
  };
  let loaded = false;
  details.addEventListener("toggle", async () => {
    if (!details.open || loaded) return;
    loaded = true;
    try {
      show(await api("GET", `/api/support/faq/${entry.id}/`));
    } catch (err) {
      answer.textContent = `Could not load the answer: ${problem(err)}`;
    }
  });
  const vote = async (value) => {
    if (!(await freshToken())) {
      status.textContent = "Sign in on the start page to vote.";
      return;
    }
    try {
      show(await api("POST", `/api/support/faq/${entry.id}/helpful/`, { helpful: value }));
    } catch (err) {
      status.textContent = `Could not vote: ${problem(err)}`;
    }
  };
  yes.addEventListener("click", () => vote(true));
  no.addEventListener("click", () => vote(false));
  return details;
}

// --- tickets ---------------------------------------------------------------------------

async function onTicket(event) {
  event.preventDefault();
  const error = $("ticket-error");
  showError(error, "");
  $("ticket-done").hidden = true;
  const body = {
    subject: $("ticket-subject").value,
    description: $("ticket-description").value,
    category: $("ticket-category").value,
    priority: $("ticket-priority").value,
  };
  const email = $("ticket-email").value.trim();
  if (!$("ticket-email-field").hidden) {
    if (!email) return showError(error, "Enter your email: we answer there.");
    body.email = email;
  }
  try {
    let token = await freshToken();
    if (!token) {
      const name = $("ticket-name").value.trim();
      if (!name) return showError(error, "Enter your name.");
      storeName(name);
      token = await guestSignIn(name);
      renderIdentity(token);
    }
    const ticket = await api("POST", "/api/support/tickets/", body);
    $("ticket-form").reset();
    const done = $("ticket-done");
    done.textContent = `Sent: ticket #${ticket.id}. We will answer here${body.email ? " and by email" : ""}.`;
    done.hidden = false;
    await loadTickets();
    await openTicket(ticket.id);
  } catch (err) {
    showError(error, `Could not send: ${problem(err)}`);
  }
}

async function loadTickets() {
  if (!(await freshToken())) return;
  try {
    const page = await api("GET", "/api/support/tickets/?page_size=100");
    $("my-tickets").replaceChildren(
      ...page.results.map((t) => {
        const button = el("button", {
          text: `#${t.id} ${t.subject}`,
          cls: "link-button",
          attrs: { type: "button", "data-ticket-id": String(t.id) },
        });
        button.addEventListener("click", () => openTicket(t.id));
        return el("li", {}, [button, el("span", { text: ` ${STATUS_TEXT[t.status] || t.status}`, cls: "muted" })]);
      }),
    );
    $("my-tickets-empty").hidden = page.results.length > 0;
  } catch (err) {
    showError($("reply-error"), `Could not load your tickets: ${problem(err)}`);
  }
}

function renderTicket(ticket) {
  currentTicket = ticket;
  $("ticket-view").hidden = false;
  $("ticket-view-subject").textContent = `#${ticket.id} ${ticket.subject}`;
  $("ticket-view-meta").textContent = `${STATUS_TEXT[ticket.status] || ticket.status} · ${ticket.priority} priority`;
  $("ticket-view-description").textContent = ticket.description;
  $("ticket-thread").replaceChildren(
    ...ticket.messages.map((m) =>
      el("li", { cls: m.from_staff ? "staff" : "mine" }, [
        el("strong", { text: m.from_staff ? `${m.author.display_name} (support)` : "You" }),
        el("div", { text: m.body, cls: "body" }),
      ]),
    ),
  );
  const closed = ticket.status === "closed";
  $("reply-form").hidden = closed;
  $("ticket-resolve").hidden = !ticket.allowed_statuses.includes("resolved");
}

async function openTicket(id) {
  showError($("reply-error"), "");
  try {
    renderTicket(await api("GET", `/api/support/tickets/${id}/`));
  } catch (err) {
    showError($("reply-error"), `Could not open the ticket: ${problem(err)}`);
  }
}

async function onReply(event) {
  event.preventDefault();
  const error = $("reply-error");
  showError(error, "");
  const body = $("reply-body").value;
  if (!body.trim() || !currentTicket) return showError(error, "Write a reply first.");
  try {
    await api("POST", `/api/support/tickets/${currentTicket.id}/reply/`, { body });
    $("reply-body").value = "";
    await openTicket(currentTicket.id);
    await loadTickets();
  } catch (err) {
    showError(error, `Could not reply: ${problem(err)}`);
  }
}

async function onResolve() {
  if (!currentTicket) return;
  try {
    await api("POST", `/api/support/tickets/${currentTicket.id}/status/`, { status: "resolved" });
    await openTicket(currentTicket.id);
    await loadTickets();
  } catch (err) {
    showError($("reply-error"), `Could not mark it solved: ${problem(err)}`);
  }
}

// --- feedback --------------------------------------------------------------------------

async function loadFeedback() {
  try {
    const page = await api("GET", "/api/support/feedback/?page_size=100");
    $("feedback-list").replaceChildren(...page.results.map(feedbackItem));
  } catch (err) {
    showError($("feedback-error"), `Could not load the board: ${problem(err)}`);
  }
}

function feedbackItem(item) {
  const count = el("span", { text: String(item.vote_count), cls: "votes", attrs: { "aria-label": "votes" } });
  const button = el("button", {
    text: item.has_voted ? "Unvote" : "Vote",
    attrs: { type: "button", "aria-pressed": String(item.has_voted) },
  });
  button.addEventListener("click", async () => {
    showError($("feedback-error"), "");
    try {
      const answer = await api("POST", `/api/support/feedback/${item.id}/vote/`);
      count.textContent = String(answer.vote_count);
      button.textContent = answer.voted ? "Unvote" : "Vote";
      button.setAttribute("aria-pressed", String(answer.voted));
    } catch (err) {
      showError($("feedback-error"), `Could not vote: ${problem(err)}`);
    }
  });
  return el("li", { attrs: { "data-feedback-id": String(item.id) } }, [
    count,
    button,
    el("span", {}, [
      el("strong", { text: item.title }),
      el("span", { text: ` (${item.kind}, ${item.status.replace("_", " ")}) ${item.description}`, cls: "muted" }),
    ]),
  ]);
}

async function onFeedback(event) {
  event.preventDefault();
  const error = $("feedback-error");
  showError(error, "");
  if (!(await freshToken())) return showError(error, "Sign in on the start page to post.");
  try {
    await api("POST", "/api/support/feedback/", {
      kind: $("feedback-kind").value,
      title: $("feedback-title").value,
      description: $("feedback-description").value,
    });
    $("feedback-form").reset();
    await loadFeedback();
  } catch (err) {
    showError(error, `Could not post: ${problem(err)}`);
  }
}

async function start() {
  renderIdentity(await freshToken());
  $("faq-search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    loadFaq($("faq-search").value.trim());
  });
  $("ticket-form").addEventListener("submit", onTicket);
  $("reply-form").addEventListener("submit", onReply);
  $("ticket-resolve").addEventListener("click", onResolve);
  $("feedback-form").addEventListener("submit", onFeedback);
  await Promise.all([loadFaq(), loadTickets(), loadFeedback()]);
  document.body.dataset.ready = "true";
}

start();
