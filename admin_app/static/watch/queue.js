// The shared queue on the watch page: what plays next, add, remove (own items; the host
// and co-hosts any), move up and down (who controls playback), skip and vote to skip.
// The server decides when an item ended and moves on (PROTOCOL.md queue_changed).

import { el, showError } from "./dom.js";
import { isAllowedMediaUrl, probeDuration } from "./player.js";

const $ = (id) => document.getElementById(id);

function report(promise) {
  promise.then(() => showError($("queue-error"), ""), (err) => showError($("queue-error"), err.message));
}

/** Wire the queue card to *client*. */
export function setupQueue(client) {
  function me() { return client.participants.get(client.participantId); }

  function mayRemove(item) {
    const p = me();
    if (!p) return false;
    if (p.role === "host" || p.role === "cohost") return true;
    return item.added_by === client.participantId;
  }

  function render() {
    const queue = client.queue;
    const items = queue.items || [];
    const control = client.joined && client.canControl();
    $("queue-empty").hidden = items.length > 0;
    $("queue-count").textContent = items.length ? `(${items.length})` : "";
    $("skip-votes").textContent = queue.skip_votes ? `${queue.skip_votes} of ${queue.skip_needed} want to skip` : "";
    $("vote-skip").disabled = !client.joined || !items.length || !(client.playback && client.playback.media);
    $("queue-skip").hidden = !control || !items.length;
    $("queue-list").replaceChildren(...items.map((item, i) => {
      const title = item.media.title || item.media.url;
      const buttons = [];
      if (control && i > 0) {
        const up = el("button", { text: "↑", attrs: { type: "button", "aria-label": `Move ${title} up` } });
        up.addEventListener("click", () => report(client.queueMove(item.id, i - 1)));
        buttons.push(up);
      }
      if (control && i < items.length - 1) {
        const down = el("button", { text: "↓", attrs: { type: "button", "aria-label": `Move ${title} down` } });
        down.addEventListener("click", () => report(client.queueMove(item.id, i + 1)));
        buttons.push(down);
      }
      if (mayRemove(item)) {
        const remove = el("button", { text: "Remove", attrs: { type: "button", "aria-label": `Remove ${title}` } });
        remove.addEventListener("click", () => report(client.queueRemove(item.id)));
        buttons.push(remove);
      }
      return el("li", { attrs: { "data-item-id": String(item.id) } }, [
        el("span", { text: title, cls: "queue-title" }),
        el("span", { text: ` added by ${item.added_by_name || "someone"}`, cls: "muted" }),
        el("span", { cls: "queue-buttons" }, buttons),
      ]);
    }));
  }

  client.addEventListener("queue", render);
  client.addEventListener("settings", render);
  client.addEventListener("participants", render);
  client.addEventListener("playback", render);
  $("vote-skip").addEventListener("click", () => report(client.voteSkip()));
  $("queue-skip").addEventListener("click", () => report(client.queueSkip()));
  $("queue-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const url = $("queue-url").value.trim();
    if (!isAllowedMediaUrl(url)) {
      showError($("queue-error"), "Give an http(s) URL or a path starting with /.");
      return;
    }
    // The duration lets the server move on by itself when the item ends.
    const title = $("queue-title").value.trim();
    probeDuration(url).then((duration) => client.queueAdd({ url, title, duration_s: duration })).then(() => {
      showError($("queue-error"), "");
      $("queue-form").reset();
    }, (err) => showError($("queue-error"), err.message));
  });
}
