// The upload page: picked, dropped, pasted and drawn images go to /predict, one at a time; each answer
// becomes a card (cards.js). Without JavaScript the page's plain form posts to / instead.

import { announce, clearCards, el, newCard, removeEmptyNote, showAnswer, showBusy, showError } from "./cards.js";
import { drawingPad } from "./pad.js";

const READ_URL = "/predict?include=input";
// Files most browsers cannot show in an <img> (Safari can): the server sends a preview of those too.
const UNSHOWN_TYPE = /^image\/(heic|heif|tiff|x-tiff)$/;
const UNSHOWN_NAME = /\.(heic|heif|tiff?)$/i;
const needsPreview = (blob, name) => UNSHOWN_TYPE.test(blob.type) || (!blob.type && UNSHOWN_NAME.test(name || ""));
const MAX_FILES = 20; // one drop or pick reads at most this many files
const FORM_OVERHEAD = 16_384; // bytes of multipart wrapping that count against the upload limit too

document.documentElement.classList.add("js");

const results = document.getElementById("results");
const clearResults = document.getElementById("results-clear");
const form = document.getElementById("upload-form");
const fileInput = document.getElementById("file");
const maxBytes = Number(form.dataset.maxBytes) || 10_000_000;
let queue = Promise.resolve(); // one request at a time: cards fill in the order they were sent

async function post(blob, name) {
  if (blob.size > maxBytes - FORM_OVERHEAD) {
    return { status: 413, error: `Send an image of at most ${maxBytes / 1_000_000} MB.` };
  }
  const body = new FormData();
  body.append("file", blob, name);
  let response;
  try {
    const url = needsPreview(blob, name) ? `${READ_URL},preview` : READ_URL;
    response = await fetch(url, { method: "POST", body, headers: { Accept: "application/json" } });
  } catch {
    return { status: 0, error: "Check the connection and try again." };
  }
  const data = await response.json().catch(() => null);
  if (response.ok && Array.isArray(data?.predictions)) return { answer: data };
  return { status: response.status, error: data?.error || `The server answered with status ${response.status}.` };
}

/** Read `blob` into `card`; `isCurrent()` says whether the answer is still wanted when it arrives. */
function read(card, blob, imageUrl, isCurrent = () => true) {
  showBusy(card);
  clearResults.hidden = false;
  const job = queue.then(() => post(blob, card.dataset.name)).then((outcome) => {
    if (!isCurrent() || !card.isConnected) return;
    if (outcome.answer) showAnswer(card, outcome.answer, imageUrl);
    else showError(card, outcome.status, outcome.error);
  });
  queue = job.catch(() => {});
}

function readFiles(files) {
  const list = Array.from(files || []);
  if (!list.length) return;
  if (list.length > MAX_FILES) announce(`Reading the first ${MAX_FILES} of ${list.length} files.`);
  removeEmptyNote();
  const before = results.firstChild; // a batch keeps its own order, above older results
  const cards = list.slice(0, MAX_FILES).map((file) => {
    const card = newCard(file.name || "Pasted image", before);
    card.dataset.url = URL.createObjectURL(file);
    read(card, file, card.dataset.url);
    return card;
  });
  // On a phone the results are below the fold: bring the first new one into view.
  if (window.matchMedia("(max-width: 759px)").matches) {
    const still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    cards[0].scrollIntoView({ block: "start", behavior: still ? "auto" : "smooth" });
  }
}

// ---- the file picker and its form ----

fileInput.multiple = true;
fileInput.required = false;
fileInput.addEventListener("change", () => {
  readFiles(fileInput.files);
  fileInput.value = ""; // picking the same file again reads it again
});
form.addEventListener("submit", (event) => {
  event.preventDefault();
  readFiles(fileInput.files);
});

// ---- drag and drop anywhere on the page, paste from the clipboard ----

const overlay = el("div", "drop-overlay");
overlay.setAttribute("aria-hidden", "true");
overlay.append(el("span", "drop-message", "Drop images to read them"));
document.body.append(overlay);
let dragDepth = 0;
const carriesFiles = (event) => Array.from(event.dataTransfer?.types || []).includes("Files");

document.addEventListener("dragenter", (event) => {
  if (!carriesFiles(event)) return;
  dragDepth += 1;
  document.body.classList.add("dragging");
});
document.addEventListener("dragover", (event) => {
  if (!carriesFiles(event)) return;
  event.preventDefault();
  event.dataTransfer.dropEffect = "copy";
});
document.addEventListener("dragleave", (event) => {
  if (!carriesFiles(event)) return;
  dragDepth = Math.max(0, dragDepth - 1);
  if (!dragDepth) document.body.classList.remove("dragging");
});
document.addEventListener("drop", (event) => {
  if (!carriesFiles(event)) return;
  event.preventDefault();
  dragDepth = 0;
  document.body.classList.remove("dragging");
  readFiles(event.dataTransfer.files);
});

document.addEventListener("paste", (event) => {
  const items = Array.from(event.clipboardData?.items || []);
  const files = items.filter((item) => item.kind === "file").map((item) => item.getAsFile()).filter(Boolean);
  if (!files.length) return; // text pasted into a field stays text
  event.preventDefault();
  // Screenshots arrive as "image.png": call them what they are.
  readFiles(files.map((file, i) => (file.name && file.name !== "image.png") ? file
    : new File([file], files.length > 1 ? `Pasted image ${i + 1}` : "Pasted image", { type: file.type })));
});

// ---- the drawing pad: one card per drawing, updated as it changes, until the pad is cleared ----

let drawingCard = null;
let drawings = 0;
const pad = drawingPad({
  onRead(blob, isCurrent) {
    if (!drawingCard?.isConnected) {
      removeEmptyNote();
      drawings += 1;
      drawingCard = newCard(`Drawing ${drawings}`);
    } else if (drawingCard !== results.firstElementChild) {
      results.insertBefore(drawingCard, results.firstChild); // the drawing being changed is the newest
    }
    const old = drawingCard.dataset.url;
    drawingCard.dataset.url = URL.createObjectURL(blob);
    if (old) URL.revokeObjectURL(old);
    read(drawingCard, blob, drawingCard.dataset.url, isCurrent);
  },
  onClear() { drawingCard = null; }, // the cleared drawing's card stays; the next drawing gets its own
  onEmpty() { announce("Draw a digit on the pad first."); },
});
document.getElementById("draw-panel").hidden = false;

clearResults.addEventListener("click", () => {
  clearCards();
  clearResults.hidden = true;
  drawingCard = null;
  pad.forget();
  announce("Results cleared.");
});
