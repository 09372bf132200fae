// The experiment page's note when a run asks for more parallel workers than there are live
// worker processes (the server words it: evolab/experiments/processes.py), kept current.
const notice = document.getElementById("capacity-notice");
const POLL_MS = 10000;

async function refresh() {
  try {
    const response = await fetch(notice.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const { notice: text } = await response.json();
    document.getElementById("capacity-text").textContent = text || "";
    notice.hidden = !text;
  } catch {
    // the server is away for a moment: the page's connection line says so; try again later
  }
}

if (notice) setInterval(refresh, POLL_MS);
