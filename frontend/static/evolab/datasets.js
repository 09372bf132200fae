// Team datasets page: upload with a progress bar (XHR upload events), then poll each
// dataset that is still indexing until it is ready or failed; rename and delete (admins).

const csrf = () => document.querySelector("input[name=csrfmiddlewaretoken]")?.value
  || document.cookie.split("; ").find((c) => c.startsWith("csrftoken="))?.split("=")[1] || "";

function api(method, url, body) {
  const headers = { Accept: "application/json", "X-CSRFToken": csrf() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return fetch(url, { method, credentials: "same-origin", headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

function errorText(data) {
  if (!data || typeof data !== "object") return "upload refused";
  if (data.detail) return String(data.detail);
  return Object.values(data).flat().map(String).join(" ");
}

function upload(form) {
  const bar = document.getElementById("upload-progress");
  const status = document.getElementById("upload-status");
  const data = new FormData(form);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", form.action);
  xhr.setRequestHeader("X-CSRFToken", csrf());
  xhr.setRequestHeader("Accept", "application/json");
  bar.hidden = false;
  bar.value = 0;
  status.textContent = "uploading…";
  xhr.upload.addEventListener("progress", (e) => {
    if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total);
  });
  xhr.addEventListener("load", () => {
    let body = null;
    try { body = JSON.parse(xhr.responseText); } catch { body = null; }
    if (xhr.status === 201) {
      bar.value = 100;
      status.textContent = "uploaded; indexing…";
      window.location.reload();
    } else {
      bar.hidden = true;
      status.textContent = errorText(body);
    }
  });
  xhr.addEventListener("error", () => { bar.hidden = true; status.textContent = "upload failed (network)"; });
  xhr.send(data);
}

async function poll(row) {
  const response = await fetch(`/api/datasets/${row.dataset.id}/`, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) return;
  const d = await response.json();
  const bar = row.querySelector("[data-field=progress]");
  if (bar) bar.value = d.progress;
  row.querySelector("[data-field=state]").textContent = d.state;
  row.querySelector("[data-field=message]").textContent = d.message;
  if (d.state === "ready" || d.state === "failed") {
    window.location.reload();
    return;
  }
  setTimeout(() => poll(row), 1000);
}

async function act(row, action) {
  const url = `/api/datasets/${row.dataset.id}/`;
  const name = row.querySelector("[data-field=name]").textContent;
  let response;
  if (action === "rename") {
    const to = window.prompt("New name", name);
    if (!to || to === name) return;
    response = await api("PATCH", url, { name: to });
  } else {
    if (!window.confirm(`Delete ${name} and its files?`)) return;
    response = await api("DELETE", url);
  }
  if (response.ok) window.location.reload();
  else window.alert(errorText(await response.json().catch(() => null)));
}

const form = document.getElementById("upload-form");
if (form) form.addEventListener("submit", (e) => { e.preventDefault(); upload(form); });
for (const row of document.querySelectorAll("#datasets tr[data-id]")) {
  if (row.dataset.state === "uploaded" || row.dataset.state === "indexing") poll(row);
  for (const button of row.querySelectorAll("button[data-action]")) {
    button.addEventListener("click", () => act(row, button.dataset.action));
  }
}
