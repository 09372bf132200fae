// Experiments page: live status, counts, best accuracy, name, tags and archived badge of the
// team's open runs, pushed by /ws/experiments/. On reconnect the page reloads its rows from
// the database (the truth).
import { fmtFlops, pct } from "./panels.js";

const table = document.getElementById("runs");
const conn = document.getElementById("conn");

function showRow(row) {
  const tr = table?.querySelector(`tr[data-id="${row.id}"]`);
  if (!tr) return;
  if (row.tags) showEdited(tr, row); // an edit: name, tags, archived
  const status = tr.querySelector("[data-field=status]");
  status.textContent = row.status;
  status.className = `status ${row.status}`;
  tr.querySelector("[data-field=individuals_trained]").textContent = row.individuals_trained.toLocaleString();
  tr.querySelector("[data-field=best_val_accuracy]").textContent = pct(row.best_val_accuracy);
  tr.querySelector("[data-field=total_flops]").textContent = fmtFlops(row.total_flops);
  const noCurve = tr.querySelector("[data-field=no_sparkline]"); // drawn at page load only
  if (noCurve && row.individuals_trained > 0) noCurve.textContent = "reload to draw";
}

function showEdited(tr, row) {
  const cell = tr.querySelector("[data-field=name]");
  const link = cell.querySelector("a");
  link.textContent = row.name;
  tr.querySelector("input[name=ids]").setAttribute("aria-label", `compare ${row.name}`);
  const extras = [];
  if (row.archived) extras.push(" ", Object.assign(document.createElement("span"), { className: "badge archived", textContent: "archived" }));
  if (row.tags.length) extras.push(" ");
  for (const tag of row.tags) {
    const a = Object.assign(document.createElement("a"), { className: "tag", textContent: tag });
    a.href = `?tag=${encodeURIComponent(tag)}`;
    extras.push(a);
  }
  cell.replaceChildren(link, ...extras);
}

function formatStatic() {
  for (const td of table?.querySelectorAll("[data-field=total_flops]") || []) td.textContent = fmtFlops(Number(td.dataset.value));
  for (const td of table?.querySelectorAll("[data-field=best_val_accuracy]") || []) {
    const v = Number(td.textContent);
    if (td.textContent !== "–" && !Number.isNaN(v)) td.textContent = pct(v);
  }
}

let retry = 0, wasOpen = false;
function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/experiments/`);
  socket.onopen = () => {
    if (wasOpen) location.reload(); // missed pushes while away: the database has them
    wasOpen = true;
    retry = 0;
    conn.textContent = "live";
    conn.className = "conn live";
  };
  socket.onmessage = (msg) => showRow(JSON.parse(msg.data));
  socket.onclose = () => {
    conn.textContent = "reconnecting…";
    conn.className = "conn down";
    setTimeout(connect, Math.min(10000, 500 * 2 ** retry++));
  };
}

formatStatic();
if (table) connect();

// A page that sent the user here says what it did (manage.js: "Deleted …").
const notice = document.getElementById("notice");
const said = sessionStorage.getItem("evolab.notice");
if (notice && said) {
  sessionStorage.removeItem("evolab.notice");
  notice.textContent = said;
  notice.hidden = false;
}
