// One group's page (/groups/<id>): join, ask to join or leave; members; posts with
// reactions. Talks to /api/social/groups/<id>/ (docs/groups.md); user text goes in
// through textContent only.
import { el, showError } from "../watch/dom.js";
import { freshToken, requestJson } from "../watch/identity.js";

const REACTIONS = ["👍", "❤️", "😂", "😮", "😢", "🎉"];
const $ = (id) => document.getElementById(id);
const groupId = $("group-page").dataset.groupId;
const base = `/api/social/groups/${groupId}`;
let token = null;
let group = null;
let nextPosts = null;
let nextMembers = null;

function say(message) { $("status").textContent = message; }

function showGroup() {
  $("group-name").textContent = group.name;
  document.title = `${group.name} · watchparty`;
  const members = `${group.member_count} member${group.member_count === 1 ? "" : "s"}`;
  $("group-meta").textContent = [group.privacy, group.category, members,
    `${group.post_count} posts`].filter(Boolean).join(" · ");
  $("group-description").textContent = group.description;
  const member = group.my_role !== null;
  $("join").hidden = !token || member || group.privacy !== "public";
  $("request").hidden = !token || member || group.privacy !== "private";
  $("leave").hidden = !member || group.my_role === "owner";
  $("post-form").hidden = !member;
}

function postItem(post) {
  const item = el("li", { attrs: { "data-post-id": String(post.id) } });
  const head = el("p", {}, [
    el("strong", { text: post.author.display_name }),
    el("span", { text: ` ${new Date(post.created_at).toLocaleString()}${post.is_edited ? " (edited)" : ""}`, cls: "muted" }),
  ]);
  const body = el("p", { text: post.content, cls: "post-content" });
  const reactions = el("p", { cls: "reactions" });
  const draw = (counts, mine) => {
    reactions.replaceChildren();
    for (const emoji of REACTIONS) {
      const count = counts[emoji] || 0;
      const button = el("button", {
        text: count ? `${emoji} ${count}` : emoji,
        attrs: { type: "button", "aria-pressed": String(mine.includes(emoji)), "aria-label": `React ${emoji}`, "data-emoji": emoji },
      });
      button.disabled = !group.my_role;
      button.addEventListener("click", async () => {
        try {
          const { data } = await requestJson("POST", `${base}/posts/${post.id}/react/`, { body: { emoji }, token });
          mine = data.reacted ? [...mine, emoji] : mine.filter((e) => e !== emoji);
          draw(data.reaction_counts, mine);
        } catch (err) {
          showError($("group-error"), err.message);
        }
      });
      reactions.append(button, " ");
    }
  };
  draw(post.reaction_counts, post.my_reactions);
  item.append(head, body, reactions);
  return item;
}

async function loadPosts(url, append) {
  const { data } = await requestJson("GET", url, { token });
  if (!append) $("post-list").replaceChildren();
  for (const post of data.results) $("post-list").append(postItem(post));
  nextPosts = data.next;
  $("more-posts").hidden = !nextPosts;
}

async function loadMembers(url, append) {
  const { data } = await requestJson("GET", url, { token });
  if (!append) $("member-list").replaceChildren();
  for (const m of data.results) {
    $("member-list").append(el("li", {}, [
      el("span", { text: m.user.display_name }),
      m.role === "member" ? null : el("span", { text: ` ${m.role}`, cls: "muted" }),
    ]));
  }
  nextMembers = data.next;
  $("more-members").hidden = !nextMembers;
}

async function refresh() {
  const { data } = await requestJson("GET", `${base}/`, { token });
  group = data;
  showGroup();
  $("post-list").replaceChildren();
  $("member-list").replaceChildren();
  if (group.privacy === "public" || group.my_role) {
    await loadPosts(`${base}/posts/?page_size=20`, false);
    await loadMembers(`${base}/members/?page_size=50`, false);
  }
}

function act(button, method, url, message, body = undefined) {
  $(button).addEventListener("click", async () => {
    showError($("group-error"), "");
    try {
      await requestJson(method, url, { token, body });
      await refresh();
      say(message);
    } catch (err) {
      showError($("group-error"), err.message);
    }
  });
}

async function main() {
  token = await freshToken();
  try {
    await refresh();
  } catch (err) {
    $("group-name").textContent = err.status === 404 ? "No such group" : "Group";
    showError($("group-error"), err.message);
  }
  act("join", "POST", `${base}/join/`, "You joined the group.");
  act("leave", "POST", `${base}/leave/`, "You left the group.");
  act("request", "POST", `${base}/join-requests/`, "Your request was sent; a moderator will decide.", {});
  $("more-posts").addEventListener("click", () => nextPosts && loadPosts(nextPosts, true));
  $("more-members").addEventListener("click", () => nextMembers && loadMembers(nextMembers, true));
  $("post-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const content = $("post-content").value.trim();
    if (!content) return showError($("post-error"), "Write something first.");
    try {
      await requestJson("POST", `${base}/posts/`, { body: { content }, token });
      $("post-content").value = "";
      showError($("post-error"), "");
      await refresh();
    } catch (err) {
      showError($("post-error"), err.message);
    }
  });
  document.body.dataset.ready = "1";
}

main();
