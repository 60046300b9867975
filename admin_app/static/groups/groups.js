// The groups page (/groups/): find groups, create one, answer invitations.
// Talks to /api/social/ (docs/groups.md); user text goes in through textContent only.
import { el, showError } from "../watch/dom.js";
import { freshToken, requestJson } from "../watch/identity.js";

const $ = (id) => document.getElementById(id);
let token = null;
let nextUrl = null;

function groupItem(group) {
  const link = el("a", { text: group.name, attrs: { href: `/groups/${group.id}` } });
  const members = `${group.member_count} member${group.member_count === 1 ? "" : "s"}`;
  const meta = [group.privacy, group.category, members].filter(Boolean).join(" · ");
  return el("li", { attrs: { "data-group-id": String(group.id) } }, [
    link, el("span", { text: ` ${meta}`, cls: "muted" }),
  ]);
}

async function loadGroups(url, append) {
  showError($("list-error"), "");
  try {
    const { data } = await requestJson("GET", url, { token });
    if (!append) $("group-list").replaceChildren();
    for (const group of data.results) $("group-list").append(groupItem(group));
    $("group-empty").hidden = data.count > 0;
    nextUrl = data.next;
    $("more-groups").hidden = !nextUrl;
  } catch (err) {
    showError($("list-error"), err.message);
  }
}

function search() {
  const query = new URLSearchParams({ page_size: "20" });
  const name = $("search-name").value.trim();
  const category = $("search-category").value.trim();
  if (name) query.set("search", name);
  if (category) query.set("category", category);
  return loadGroups(`/api/social/groups/?${query}`, false);
}

async function loadInvitations() {
  const { data } = await requestJson("GET", "/api/social/invitations/?page_size=50", { token });
  const list = $("invitation-list");
  list.replaceChildren();
  for (const inv of data.results) {
    const answer = (accept) => async () => {
      try {
        await requestJson("POST", `/api/social/groups/${inv.group_id}/invitations/${inv.id}/respond/`,
          { body: { accept }, token });
        if (accept) window.location.assign(`/groups/${inv.group_id}`);
        else await loadInvitations();
      } catch (err) {
        item.append(el("span", { text: ` ${err.message}`, cls: "form-error" }));
      }
    };
    const accept = el("button", { text: "Accept", cls: "primary", attrs: { type: "button" } });
    const decline = el("button", { text: "Decline", attrs: { type: "button" } });
    accept.addEventListener("click", answer(true));
    decline.addEventListener("click", answer(false));
    const item = el("li", {}, [
      el("a", { text: inv.group_name, attrs: { href: `/groups/${inv.group_id}` } }),
      inv.message ? el("span", { text: ` “${inv.message}”`, cls: "muted" }) : null,
      el("span", { text: " " }), accept, el("span", { text: " " }), decline,
    ]);
    list.append(item);
  }
  $("invitations-card").hidden = data.count === 0;
}

async function create(event) {
  event.preventDefault();
  const form = event.target;
  const name = form.name.value.trim();
  if (!name) return showError($("create-error"), "Enter a name for the group.");
  try {
    const { data } = await requestJson("POST", "/api/social/groups/", {
      token,
      body: {
        name,
        description: form.description.value,
        category: form.category.value.trim(),
        privacy: form.privacy.value,
        max_members: Number(form.max_members.value) || 1000,
      },
    });
    window.location.assign(`/groups/${data.id}`);
  } catch (err) {
    const detail = err.details && err.details[0];
    showError($("create-error"), detail ? `${detail.field}: ${detail.message}` : err.message);
  }
}

async function main() {
  token = await freshToken();
  $("signed-out").hidden = Boolean(token);
  $("create-card").hidden = !token;
  $("search-form").addEventListener("submit", (e) => { e.preventDefault(); search(); });
  $("more-groups").addEventListener("click", () => nextUrl && loadGroups(nextUrl, true));
  $("create-form").addEventListener("submit", create);
  await search();
  if (token) await loadInvitations().catch(() => {});
  document.body.dataset.ready = "1";
}

main();
