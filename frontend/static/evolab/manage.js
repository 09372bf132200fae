// Run management on the experiment page (experiments/_manage.html): rename inline, tags,
// notes with a live Markdown preview, archive / unarchive and delete (after typing the
// run's name), each one PATCH or DELETE /api/experiments/<id>/. The server checks
// everything; its message is shown as it says it. Edits made elsewhere arrive live.
import { renderMarkdown } from "./markdown.js";

const root = document.getElementById("manage");
const ACTIVE = new Set(["running", "pausing", "stopping"]);
const $ = (id) => document.getElementById(id);

const csrf = () => root.querySelector("input[name=csrfmiddlewaretoken]")?.value || "";

async function send(method, body) {
  const headers = { Accept: "application/json", "X-CSRFToken": csrf() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(root.dataset.api, {
    method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) throw new Error(messageOf(data, r.status));
  return data;
}

function messageOf(data, status) {
  if (!data || typeof data !== "object") return `refused (${status})`;
  if (data.detail) return String(data.detail);
  return Object.entries(data).map(([field, msgs]) => `${field}: ${[msgs].flat().map((m) => (
    typeof m === "object" ? Object.values(m).flat().join(" ") : m)).join(" ")}`).join("; ");
}

function showError(text, where = $("manage-error")) {
  where.textContent = text || "";
  where.hidden = !text;
}

// One "Edit" button and its form: open fills the form, cancel or a save closes it.
function editor(button, form, { open, save }) {
  if (!button || !form) return;
  const close = () => { form.hidden = true; button.hidden = false; };
  button.addEventListener("click", () => { open(); form.hidden = false; button.hidden = true; showError(""); });
  form.querySelector("[data-cancel]")?.addEventListener("click", close);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await save();
      close();
      showError("");
    } catch (err) {
      showError(err.message);
    }
  });
}

function showTags(tags) {
  const view = $("tags-view");
  if (!tags.length) {
    const none = document.createElement("span");
    none.className = "muted";
    none.textContent = "none";
    view.replaceChildren(none);
    return;
  }
  view.replaceChildren(...tags.map((tag) => {
    const chip = document.createElement("span");
    chip.className = "tag";
    chip.dataset.tag = tag;
    chip.textContent = tag;
    return chip;
  }));
}

function showName(name) {
  root.dataset.name = name;
  const h1 = document.querySelector("#experiment h1");
  if (h1) h1.textContent = name;
  document.title = `${name} · EvoLab`;
  document.dispatchEvent(new CustomEvent("evolab:renamed", { detail: { name } })); // experiment.js
}

function showArchived(archived) {
  root.dataset.archived = String(archived);
  $("archived-badge").hidden = !archived;
  const button = $("archive");
  if (button) button.textContent = archived ? "Unarchive" : "Archive";
}

let notes = JSON.parse($("notes-source").textContent || '""');
function showNotes() {
  const view = $("notes-view");
  if (notes.trim()) renderMarkdown(view, notes);
  else view.replaceChildren(Object.assign(document.createElement("span"), { className: "muted", textContent: "none" }));
}

function wireEditors() {
  editor($("rename"), $("rename-form"), {
    open: () => { $("rename-input").value = root.dataset.name; setTimeout(() => $("rename-input").focus()); },
    save: async () => showName((await send("PATCH", { name: $("rename-input").value })).name),
  });
  editor($("tags-edit"), $("tags-form"), {
    open: () => {
      $("tags-input").value = [...$("tags-view").querySelectorAll("[data-tag]")].map((t) => t.dataset.tag).join(", ");
      setTimeout(() => $("tags-input").focus());
    },
    save: async () => {
      const tags = $("tags-input").value.split(/[\s,]+/).filter(Boolean);
      showTags((await send("PATCH", { tags })).tags);
    },
  });
  const input = $("notes-input");
  editor($("notes-edit"), $("notes-form"), {
    open: () => { input.value = notes; renderMarkdown($("notes-preview"), notes); setTimeout(() => input.focus()); },
    save: async () => { notes = (await send("PATCH", { notes: input.value })).notes; showNotes(); },
  });
  input?.addEventListener("input", () => renderMarkdown($("notes-preview"), input.value));
  $("archive")?.addEventListener("click", async () => {
    try {
      showArchived((await send("PATCH", { archived: root.dataset.archived !== "true" })).archived);
      showError("");
    } catch (err) {
      showError(err.message);
    }
  });
}

function wireDelete() {
  const button = $("delete"), dialog = $("delete-dialog");
  if (!button || !dialog) return;
  const typed = $("delete-confirm"), go = $("delete-go"), error = $("delete-error");
  const status = $("status");
  const refresh = () => {  // a live status change (experiment.js) may allow or forbid it
    const active = ACTIVE.has(status?.textContent.trim());
    button.disabled = active;
    button.title = active ? "Stop the run before deleting it." : "";
  };
  if (status) new MutationObserver(refresh).observe(status, { childList: true, characterData: true, subtree: true });
  refresh();
  button.addEventListener("click", () => {
    $("delete-name").textContent = root.dataset.name;
    typed.value = "";
    go.disabled = true;
    showError("", error);
    dialog.showModal();
    typed.focus();
  });
  typed.addEventListener("input", () => { go.disabled = typed.value.trim() !== root.dataset.name; });
  $("delete-cancel").addEventListener("click", () => dialog.close());
  $("delete-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (typed.value.trim() !== root.dataset.name) return;
    go.disabled = true;
    try {
      await send("DELETE");
      sessionStorage.setItem("evolab.notice", `Deleted “${root.dataset.name}”.`);
      window.location.assign(root.dataset.list);
    } catch (err) {
      showError(err.message, error);
      go.disabled = false;
    }
  });
}

// An edit by anyone (another page, the API), live (experiment.js relays the `edited` event).
function showEdited({ name, notes: text, tags, archived }) {
  if (name !== root.dataset.name) showName(name);
  showTags(tags);
  showArchived(archived);
  if (text !== notes) { notes = text; showNotes(); }
}

if (root) {
  showNotes();
  wireEditors();
  wireDelete();
  document.addEventListener("evolab:edited", (e) => showEdited(e.detail));
}
