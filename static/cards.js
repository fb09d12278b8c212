// Result cards: the same markup as templates/_result.html, built from /predict's JSON.
// Server data and file names go in with textContent and attributes only, never as HTML.

const SVG_NS = "http://www.w3.org/2000/svg";
const UNSURE = 0.6; // below this confidence a digit is marked "not sure"
const SMALL_IMAGE = 160; // narrower images are shown enlarged, pixels kept sharp
// The words for each error come from the server (app/pages.py), so the page says the same with or without JavaScript.
const PAGE_TEXT = JSON.parse(document.getElementById("page-text").textContent);
const HEADLINES = { 0: "Couldn't reach the server", ...PAGE_TEXT.headlines };
const NO_DIGIT_HINT = PAGE_TEXT.noDigitHint;
const EMPTY = "Nothing read yet. Results appear here, newest first.";

const results = document.getElementById("results");
const announcer = document.getElementById("announcer");
let cardCount = 0;

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

const percent = (p) => `${(Math.floor(p * 1000) / 10).toFixed(1)}%`; // rounded down: never a false 100%

function sentence(text) {
  const s = String(text || "").trim();
  if (!s) return s;
  const capital = s[0].toUpperCase() + s.slice(1);
  return capital.endsWith(".") ? capital : `${capital}.`;
}

/** Say `text` to screen readers through the page's polite live region. */
export function announce(text) {
  announcer.textContent = "";
  window.setTimeout(() => { announcer.textContent = text; }, 50); // a change screen readers notice
}

/** A new card named `name`, inserted before `before` (default: at the top, newest first). */
export function newCard(name, before = results.firstChild) {
  cardCount += 1;
  const card = el("article", "card result");
  card.id = `result-${cardCount}`;
  card.dataset.name = name;
  results.insertBefore(card, before);
  return card;
}

export function removeEmptyNote() {
  document.getElementById("results-empty")?.remove();
}

/** Remove every card (and the image URLs they hold) and show the empty note again. */
export function clearCards() {
  for (const card of results.querySelectorAll("[data-url]")) URL.revokeObjectURL(card.dataset.url);
  const note = el("p", "empty", EMPTY);
  note.id = "results-empty";
  results.replaceChildren(note);
}

function head(card, meta, digits) {
  const header = el("header", "card-head");
  const titles = el("div");
  const title = el("h3", "card-title", card.dataset.name);
  title.id = `${card.id}-title`;
  card.setAttribute("aria-labelledby", title.id);
  titles.append(title);
  if (meta) titles.append(el("p", "meta", meta));
  header.append(titles);
  if (digits !== undefined) {
    const reading = el("p", "reading");
    reading.append(el("span", "visually-hidden", "Read as "), el("span", "digits", digits));
    header.append(reading);
  }
  return header;
}

export function showBusy(card) {
  card.className = "card result busy";
  card.removeAttribute("role");
  card.setAttribute("aria-busy", "true");
  const status = el("p", "status-line");
  status.append(el("span", "spinner"), el("span", "", "Reading…"));
  card.replaceChildren(head(card), status);
}

export function showError(card, status, detail) {
  card.className = "card error";
  card.setAttribute("role", "alert");
  card.removeAttribute("aria-busy");
  const header = head(card);
  const headline = HEADLINES[status] || "That upload could not be read";
  header.firstChild.append(el("p", "error-headline", headline));
  const words = status === 422 ? NO_DIGIT_HINT : sentence(detail);
  card.replaceChildren(header, el("p", "error-detail", words));
  announce(`${card.dataset.name}: ${headline}`);
}

export function showAnswer(card, answer, imageUrl) {
  const count = answer.predictions.length;
  card.className = count > 1 ? "card result many" : "card result";
  card.removeAttribute("role");
  card.removeAttribute("aria-busy");
  const meta = `${count} digit${count === 1 ? "" : "s"} · model ${answer.model}`;
  const body = el("div", "card-body");
  body.append(uploadFigure(answer.predictions, imageUrl, answer.preview), digitList(answer.predictions));
  card.replaceChildren(head(card, meta, answer.digits), body);
  announce(`${card.dataset.name}: read ${answer.digits.split("").join(" ")}`);
}

/** The upload with a box around each digit; `preview` (the server's copy, for a file this browser cannot
 * show, such as HEIC or TIFF) stands in for it if it does not load. */
function uploadFigure(predictions, imageUrl, preview) {
  const figure = el("figure", "upload");
  const frame = el("div", "frame");
  const img = el("img");
  img.alt = "The uploaded image";
  const boxes = svg("svg", { class: "boxes", preserveAspectRatio: "none", "aria-hidden": "true" });
  for (const { box: [x, y, w, h] } of predictions) {
    boxes.append(svg("rect", { class: "box", x, y, width: w, height: h, "vector-effect": "non-scaling-stroke" }));
  }
  // Boxes are in the upload's own pixels, upright: the size the browser reports once it has decoded it, or
  // the size the server gives with its preview (a smaller copy).
  let size = null;
  img.addEventListener("load", () => {
    const [width, height] = size || [img.naturalWidth, img.naturalHeight];
    boxes.setAttribute("viewBox", `0 0 ${width} ${height}`);
    img.classList.toggle("small", width < SMALL_IMAGE);
  });
  img.addEventListener("error", () => {
    if (preview && !size) {
      size = [preview.width, preview.height];
      img.src = preview.url;
      return;
    }
    frame.replaceWith(el("p", "hint", "This browser cannot show this kind of image, but it was read."));
  });
  img.src = imageUrl;
  frame.append(img, boxes);
  figure.append(frame, el("figcaption", "", "A box around each digit found"));
  return figure;
}

function digitList(predictions) {
  const list = el("ol", "digit-list");
  predictions.forEach((p, index) => {
    const item = el("li", p.confidence < UNSURE ? "digit unsure" : "digit");
    const input = el("figure", "model-input");
    const img = el("img");
    img.src = p.input;
    img.width = 84;
    img.height = 84;
    img.alt = `The 28 by 28 pixel image the model was given for digit ${index + 1}`;
    input.append(img, el("figcaption", "", "Model input"));
    const main = el("div", "digit-main");
    const value = el("span", "digit-value", String(p.digit));
    value.setAttribute("aria-label", `Digit ${index + 1}: ${p.digit}`);
    const confidence = el("span", "confidence", percent(p.confidence));
    confidence.append(el("span", "visually-hidden", " confidence"));
    main.append(value, confidence);
    if (p.confidence < UNSURE) main.append(el("span", "note", "not sure"));
    item.append(input, main, chart(p.probabilities, p.digit));
    list.append(item);
  });
  return list;
}

function chart(probabilities, digit) {
  // 10 bars in a 200 x 90 box: bar i at x = 20 i + 3, 14 wide, up to 70 tall; its label below.
  const label = probabilities.map((p, i) => `${i} ${percent(p)}`).join(", ");
  const root = svg("svg", { class: "probs", viewBox: "0 0 200 90", role: "img",
                            "aria-label": `Probabilities: ${label}` });
  probabilities.forEach((p, i) => {
    const h = Math.max(p * 70, 1);
    const top = i === digit ? " top" : "";
    const bar = svg("rect", { class: `bar${top}`, x: i * 20 + 3, y: (70 - h).toFixed(2), width: 14,
                              height: h.toFixed(2) });
    bar.append(svg("title", {}, `${i}: ${percent(p)}`));
    root.append(bar, svg("text", { class: `bar-label${top}`, x: i * 20 + 10, y: 86 }, String(i)));
  });
  return root;
}
