// Downloads on the experiment page: every format of the selected individual and the run's
// top-k ensemble, with their sizes when the server knows them. A file the server has not made
// yet (the first TorchScript, ONNX or bundle of a model: seconds for a large one) is fetched
// here while its link says "preparing…", then saved; one that is ready is a plain link.
import { fmtBytes, h } from "./panels.js";

const $ = (id) => document.getElementById(id);
const LINK_IDS = { safetensors: "dl-weights", dna: "dl-dna" }; // the ids the page always had
const FORMATS = [
  ["bundle", "bundle (.zip)", ".zip"], ["torchscript", "TorchScript (.pt)", ".torchscript.pt"],
  ["exported-program", "exported program (.pt2)", ".pt2"], ["onnx", "ONNX (.onnx)", ".onnx"],
  ["safetensors", "weights (.safetensors)", ".safetensors"], ["dna", "DNA (.json)", ".dna.json"],
];
let shown = 0; // the individual whose links are drawn; a late answer for another is dropped

function sizeText(entry) {
  if (entry.note) return entry.note;
  if (entry.bytes === null) return "made on first download";
  return (entry.format === "bundle" || entry.format === "ensemble" ? "~" : "") + fmtBytes(entry.bytes);
}

function link(id, entry) {
  const a = h("a", { id, href: entry.url, download: entry.filename, class: "dl", onclick: fetchFirst }, entry.label);
  a.dataset.ready = "false"; // until the server said so
  return h("li", { "data-format": entry.format }, a, " ", h("small", { class: "dl-size muted" }));
}

function update(li, entry) {
  const a = li.querySelector("a"), size = li.querySelector(".dl-size");
  a.dataset.ready = String(entry.ready);
  a.hidden = Boolean(entry.note);
  size.textContent = sizeText(entry);
}

async function message(response) {
  try { return (await response.json()).detail || `HTTP ${response.status}`; } catch { return `HTTP ${response.status}`; }
}

function save(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: filename, hidden: "" });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// A link whose file is not made yet: fetch it here so the click shows progress at once.
async function fetchFirst(event) {
  const a = event.currentTarget;
  if (a.dataset.ready === "true") return; // a plain link: the browser downloads it
  event.preventDefault();
  if (a.classList.contains("preparing")) return;
  const size = a.parentElement.querySelector(".dl-size"), label = a.textContent;
  a.classList.add("preparing");
  a.textContent = "preparing…";
  a.setAttribute("aria-busy", "true");
  try {
    const response = await fetch(a.href, { credentials: "same-origin" });
    if (!response.ok) throw new Error(await message(response));
    const blob = await response.blob();
    save(blob, a.getAttribute("download"));
    a.dataset.ready = "true";
    size.textContent = fmtBytes(blob.size);
  } catch (err) {
    size.textContent = `could not download: ${err.message}`;
  } finally {
    a.classList.remove("preparing");
    a.textContent = label;
    a.removeAttribute("aria-busy");
  }
}

async function getJSON(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

/** The selected individual's downloads (detail: the page's individual JSON), drawn at once
 * from what the page knows; sizes follow from the server. Also refreshes the run's. */
export async function showDownloads(container, experimentId, detail) {
  shown = detail.id;
  const url = `/api/individuals/${detail.id}/download/?format=`;
  const stem = `evolab-${experimentId}-${detail.number}`;
  const items = FORMATS.map(([format, label, suffix]) => link(LINK_IDS[format] || `dl-${format}`,
    { format, label, url: url + format, filename: stem + suffix }));
  $("download-list").replaceChildren(...items);
  for (const li of items) li.hidden = li.dataset.format !== "dna" && !detail.weights_kept;
  $("weights-gone").hidden = detail.weights_kept;
  container.hidden = false;
  showRunDownloads(experimentId);
  try {
    const body = await getJSON(`/experiments/${experimentId}/individuals/${detail.number}/downloads.json`);
    if (shown !== detail.id) return;
    for (const entry of body.downloads) {
      const li = items.find((x) => x.dataset.format === entry.format);
      if (li) update(li, entry);
    }
  } catch {
    // The links work without their sizes: every one is fetched as if it had to be made.
  }
}

/** The run's ensemble: offered once an individual has weights. */
export async function showRunDownloads(experimentId) {
  const box = $("run-downloads");
  try {
    const { ensemble } = await getJSON(`/experiments/${experimentId}/downloads.json`);
    box.hidden = Boolean(ensemble.note);
    if (box.hidden) return;
    let li = $("run-download-list").querySelector("li");
    if (!li || li.querySelector("a").getAttribute("href") !== ensemble.url) {
      li = link("dl-ensemble", ensemble);
      $("run-download-list").replaceChildren(li);
    }
    const a = li.querySelector("a");
    if (a.classList.contains("preparing")) return; // its fetch will say how it went
    a.textContent = ensemble.label;
    a.title = `members #${ensemble.members.join(", #")}`;
    update(li, ensemble);
  } catch {
    box.hidden = true;
  }
}
