// The moderation menu on a participant, for those the room's permission table allows
// (PROTOCOL.md mute, ban): mute for 10 minutes or until lifted, unmute, ban. The server
// checks every request again; these buttons only save a round trip.

import { el, showError } from "./dom.js";

const RANK = { host: 0, cohost: 1, moderator: 2, viewer: 3 };
const MUTE_S = 600;

function may(client, action, target) {
  const me = client.participants.get(client.participantId);
  if (!me || !target || target.id === me.id) return false;
  const least = (client.settings.permissions || {})[action];
  if (!least || (RANK[me.role] ?? 9) > (RANK[least] ?? 0)) return false;
  return (RANK[target.role] ?? 9) > (RANK[me.role] ?? 9);
}

function act(promise) {
  promise.then(() => showError(document.getElementById("control-error"), ""),
    (err) => showError(document.getElementById("control-error"), err.message));
}

/** The moderation buttons for participant *p* (none when we may not). */
export function moderationButtons(client, p) {
  const buttons = [];
  if (may(client, "mute", p)) {
    const muted = client.muted.has(p.id);
    const mute = el("button", {
      text: muted ? "Unmute" : "Mute 10 min",
      cls: "link-button",
      attrs: { type: "button", "aria-label": `${muted ? "Unmute" : "Mute"} ${p.name}` },
    });
    mute.addEventListener("click", () => act(muted ? client.unmute(p.id) : client.mute(p.id, MUTE_S)));
    buttons.push(mute);
  }
  if (may(client, "ban", p)) {
    const ban = el("button", { text: "Ban", cls: "link-button", attrs: { type: "button", "aria-label": `Ban ${p.name}` } });
    ban.addEventListener("click", () => {
      if (confirm(`Ban ${p.name} from this room?`)) act(client.ban(p.id));
    });
    buttons.push(ban);
  }
  return buttons.length ? el("span", { cls: "moderation" }, buttons) : null;
}
