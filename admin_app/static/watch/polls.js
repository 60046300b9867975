// Polls on the watch page: open one, vote (a change of the inputs is the vote), see the
// results live, close. The server sends results coalesced (PROTOCOL.md poll_results);
// this only draws what the client holds. User text goes in through textContent only.

import { el, showError } from "./dom.js";

const $ = (id) => document.getElementById(id);

function formatClock(ms) {
  const time = new Date(ms);
  return Number.isNaN(time.getTime()) ? "" : time.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function summary(poll) {
  const r = poll.results || { voter_count: 0 };
  const people = `${r.voter_count} ${r.voter_count === 1 ? "voter" : "voters"}`;
  if (poll.closed) return `${people} · closed${poll.close_reason === "expired" ? " (time up)" : ""}`;
  const closes = poll.closes_at_ms ? ` · closes at ${formatClock(poll.closes_at_ms)}` : "";
  return `${people}${poll.anonymous ? " · anonymous" : ""}${closes}`;
}

/** Draw a poll's counts and our choices into its item (inputs stay: focus is kept). */
function fill(item, poll, client) {
  const r = poll.results || { counts: [], voters: null };
  const total = Math.max(1, r.counts.reduce((a, b) => a + b, 0));
  const mine = client.pollVotes.get(poll.id) || [];
  item.querySelectorAll("[data-option]").forEach((row) => {
    const i = Number(row.dataset.option);
    const count = r.counts[i] || 0;
    row.querySelector(".poll-count").textContent = String(count);
    row.querySelector("meter").value = count / total;
    const input = row.querySelector("input");
    input.checked = mine.includes(i);
    input.disabled = poll.closed;
    const names = r.voters ? r.voters[i].map((v) => v.name).join(", ") : "";
    row.querySelector(".poll-voters").textContent = names;
  });
  item.querySelector(".poll-summary").textContent = summary(poll);
  const close = item.querySelector("[data-action=close]");
  if (close) close.hidden = !client.canClosePoll(poll);
}

function pollItem(poll, client) {
  const name = `poll-${poll.id}`;
  const rows = poll.options.map((text, i) => el("li", { cls: "poll-option", attrs: { "data-option": String(i) } }, [
    el("label", {}, [
      el("input", { attrs: { type: poll.multiple ? "checkbox" : "radio", name, value: String(i) } }),
      el("span", { text, cls: "poll-text" }),
      el("span", { text: "0", cls: "poll-count badge" }),
    ]),
    el("meter", { attrs: { min: "0", max: "1", value: "0", "aria-hidden": "true" } }),
    el("span", { cls: "poll-voters muted" }),
  ]));
  const options = el("ul", { cls: "poll-options", attrs: { "aria-label": poll.question } }, rows);
  const close = el("button", { text: "Close poll", attrs: { type: "button", "data-action": "close" } });
  const item = el("li", { cls: "poll", attrs: { "data-poll-id": String(poll.id), "data-status": poll.closed ? "closed" : "open" } }, [
    el("p", { text: poll.question, cls: "poll-question" }),
    el("p", { cls: "poll-by muted", text: `asked by ${poll.created_by_name || "someone"}` }),
    options,
    el("p", { cls: "poll-summary muted", attrs: { "aria-live": "polite" } }),
    close,
  ]);
  options.addEventListener("change", () => {
    const choices = [...options.querySelectorAll("input:checked")].map((x) => Number(x.value));
    client.pollVote(poll.id, choices).then(
      () => showError($("poll-error"), ""),
      (err) => { showError($("poll-error"), err.message); render(client, poll.id); },
    );
  });
  close.addEventListener("click", () => {
    client.pollClose(poll.id).then(() => showError($("poll-error"), ""), (err) => showError($("poll-error"), err.message));
  });
  fill(item, poll, client);
  return item;
}

function render(client, pollId) {
  const list = $("poll-list");
  const polls = [...client.polls.values()].sort((a, b) => b.id - a.id); // newest first
  $("polls-empty").hidden = polls.length > 0;
  $("poll-new").hidden = !client.joined || !client.canCreatePoll();
  if (pollId !== null && pollId !== undefined) {
    const poll = client.polls.get(pollId);
    const item = list.querySelector(`li[data-poll-id="${CSS.escape(String(pollId))}"]`);
    if (poll && item && item.dataset.status === (poll.closed ? "closed" : "open")) {
      fill(item, poll, client);
      return;
    }
  }
  list.replaceChildren(...polls.map((p) => pollItem(p, client)));
}

function readForm() {
  const options = $("poll-options").value.split("\n").map((s) => s.trim()).filter(Boolean);
  const duration = $("poll-duration").value;
  return {
    question: $("poll-question").value.trim(),
    options,
    multiple: $("poll-multiple").checked,
    anonymous: $("poll-anonymous").checked,
    duration_s: duration ? Number(duration) : null,
  };
}

/** Wire the polls card to *client*. */
export function setupPolls(client) {
  client.addEventListener("polls", (e) => render(client, e.detail ? e.detail.pollId : null));
  // Roles and settings decide who may open and close polls.
  client.addEventListener("settings", () => render(client, null));
  client.addEventListener("participants", () => { $("poll-new").hidden = !client.joined || !client.canCreatePoll(); });
  $("poll-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const poll = readForm();
    if (!poll.question) { showError($("poll-error"), "Write a question."); return; }
    if (poll.options.length < 2 || poll.options.length > 10) {
      showError($("poll-error"), "Give 2 to 10 options, one a line.");
      return;
    }
    try {
      await client.pollCreate(poll);
      showError($("poll-error"), "");
      $("poll-form").reset();
      $("poll-new").open = false;
    } catch (err) {
      showError($("poll-error"), err.message);
    }
  });
}
