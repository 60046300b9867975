// Reactions on the watch page: buttons that react at the room's position (the server
// computes it, PROTOCOL.md reaction), and the strip under the player that shows where
// the room reacted in this video (get_reaction_timeline, then each reaction as it comes).

import { showError } from "./dom.js";

const $ = (id) => document.getElementById(id);

function mediaKey(media) {
  if (!media) return null;
  return media.video_id ? `video:${media.video_id}` : `url:${media.url}`;
}

function clockText(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** Wire the reaction buttons and the timeline strip to *client*. */
export function setupReactions(client, video) {
  const timeline = { key: null, counts: new Map() }; // second -> count (all emoji)
  const canvas = $("reaction-timeline");

  function duration() {
    const media = client.playback && client.playback.media;
    if (media && media.duration_s) return media.duration_s;
    return Number.isFinite(video.duration) && video.duration > 0 ? video.duration : null;
  }

  function draw() {
    const width = canvas.clientWidth || 300;
    canvas.width = width;
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, width, canvas.height);
    const total = duration();
    let peak = null;
    for (const [second, count] of timeline.counts) if (!peak || count > peak[1]) peak = [second, count];
    canvas.dataset.total = String([...timeline.counts.values()].reduce((a, b) => a + b, 0));
    if (!peak || !total) {
      canvas.setAttribute("aria-label", "Where the room reacted: no reactions yet");
      return;
    }
    const columns = new Map();
    for (const [second, count] of timeline.counts) {
      const x = Math.min(width - 2, Math.floor((second / total) * width / 2) * 2);
      columns.set(x, (columns.get(x) || 0) + count);
    }
    const top = Math.max(...columns.values());
    ctx.fillStyle = getComputedStyle(canvas).color;
    for (const [x, count] of columns) {
      const h = Math.max(2, Math.round((count / top) * canvas.height));
      ctx.fillRect(x, canvas.height - h, 2, h);
    }
    canvas.setAttribute("aria-label", `Where the room reacted: most at ${clockText(peak[0])} (${peak[1]} reactions)`);
  }

  async function load() {
    timeline.key = mediaKey(client.playback && client.playback.media);
    timeline.counts = new Map();
    draw();
    try {
      const answer = await client.reactionTimeline();
      timeline.key = answer.media_key;
      timeline.counts = new Map();
      for (const [second, , count] of answer.counts) timeline.counts.set(second, (timeline.counts.get(second) || 0) + count);
      draw();
    } catch {
      // Not connected any more: the next welcome loads it again.
    }
  }

  client.addEventListener("welcome", load);
  client.addEventListener("playback", (e) => {
    const key = mediaKey(e.detail.state && e.detail.state.media);
    if (key !== timeline.key) load();
  });
  client.addEventListener("reaction", (e) => {
    const r = e.detail;
    const who = client.participants.get(r.participant_id);
    $("reaction-feed").textContent = `${who ? who.name : "Someone"} ${r.emoji} at ${clockText(r.position_s)}`;
    if (timeline.key !== null && timeline.key === mediaKey(client.playback && client.playback.media)) {
      const second = Math.floor(r.position_s);
      timeline.counts.set(second, (timeline.counts.get(second) || 0) + 1);
      draw();
    }
  });
  addEventListener("resize", draw);
  video.addEventListener("loadedmetadata", draw);
  for (const button of document.querySelectorAll("#reactions [data-emoji]")) {
    button.addEventListener("click", () => {
      client.react(button.dataset.emoji).then(
        () => showError($("reaction-error"), ""),
        (err) => showError($("reaction-error"), err.code === "rate_limited" ? "Easy: too many reactions, try again in a moment." : err.message),
      );
    });
  }
}
