// The drawing pad: strokes from mouse, finger or pen, undo and clear, and a PNG of the drawing to read.

const DRAW_DELAY_MS = 600; // read a drawing this long after the pen lifts, unless it comes down again
const PAD_SIZE = 280; // drawings are sent as PAD_SIZE x PAD_SIZE PNGs, whatever the screen's size

/**
 * Wire up the pad; `onRead(blob, isCurrent)` gets each version of the drawing to read, and `isCurrent()`
 * says later whether that version is still the one on the pad. `onClear()` runs when the pad is cleared.
 */
export function drawingPad({ onRead, onClear, onEmpty }) {
  const canvas = document.getElementById("pad");
  const hint = document.getElementById("pad-hint");
  const widthInput = document.getElementById("pad-width");
  const undoButton = document.getElementById("pad-undo");
  const clearButton = document.getElementById("pad-clear");
  const strokes = []; // each {width, points: [[x, y], ...]} with x, y in 0..1 of the pad
  let active = null; // the stroke being drawn and the pointer drawing it
  let timer = 0;
  let generation = 0; // bumped by every change, so answers about older drawings can be dropped

  function paint(target, scale) {
    const ctx = target.getContext("2d");
    ctx.clearRect(0, 0, target.width, target.height);
    ctx.strokeStyle = ctx.fillStyle = getComputedStyle(canvas).color; // the scheme's ink colour
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    for (const { width, points } of strokes) {
      const w = (width / PAD_SIZE) * scale;
      ctx.lineWidth = w;
      ctx.beginPath();
      if (points.length === 1) { // a dot
        ctx.arc(points[0][0] * scale, points[0][1] * scale, w / 2, 0, 2 * Math.PI);
        ctx.fill();
        continue;
      }
      ctx.moveTo(points[0][0] * scale, points[0][1] * scale);
      for (const [x, y] of points.slice(1)) ctx.lineTo(x * scale, y * scale);
      ctx.stroke();
    }
  }

  function redraw() {
    const size = Math.round(canvas.clientWidth * (window.devicePixelRatio || 1)) || PAD_SIZE;
    if (canvas.width !== size) canvas.width = canvas.height = size; // sharp on high-density screens
    paint(canvas, size);
    hint.classList.toggle("gone", strokes.length > 0);
    undoButton.disabled = clearButton.disabled = !strokes.length;
  }

  function point(event) {
    const rect = canvas.getBoundingClientRect();
    const clamp = (v) => Math.min(1, Math.max(0, v));
    return [clamp((event.clientX - rect.left) / rect.width), clamp((event.clientY - rect.top) / rect.height)];
  }

  function changed() {
    generation += 1;
    window.clearTimeout(timer);
    if (strokes.length) timer = window.setTimeout(readNow, DRAW_DELAY_MS);
  }

  function readNow() {
    window.clearTimeout(timer);
    if (!strokes.length) {
      onEmpty();
      return;
    }
    const exported = document.createElement("canvas");
    exported.width = exported.height = PAD_SIZE;
    paint(exported, PAD_SIZE); // transparent paper: the server reads transparency as paper
    const mine = generation;
    exported.toBlob((blob) => {
      if (blob && mine === generation) onRead(blob, () => mine === generation);
    }, "image/png");
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (active || (event.pointerType === "mouse" && event.button !== 0)) return;
    event.preventDefault();
    window.clearTimeout(timer);
    canvas.setPointerCapture(event.pointerId);
    active = { id: event.pointerId, stroke: { width: Number(widthInput.value), points: [point(event)] } };
    strokes.push(active.stroke);
    redraw();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!active || event.pointerId !== active.id) return;
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    for (const e of events.length ? events : [event]) active.stroke.points.push(point(e));
    redraw();
  });
  const lift = (event) => {
    if (!active || event.pointerId !== active.id) return;
    active = null;
    changed();
  };
  canvas.addEventListener("pointerup", lift);
  canvas.addEventListener("pointercancel", lift);

  function undo() {
    if (!strokes.length) return;
    strokes.pop();
    redraw();
    changed();
  }

  undoButton.addEventListener("click", undo);
  clearButton.addEventListener("click", () => {
    strokes.length = 0;
    redraw();
    changed();
    onClear();
  });
  document.getElementById("pad-read").addEventListener("click", readNow);
  document.addEventListener("keydown", (event) => {
    const typing = event.target.closest?.("input[type=text], textarea, [contenteditable]");
    if ((event.ctrlKey || event.metaKey) && !event.shiftKey && event.key.toLowerCase() === "z" && !typing) {
      event.preventDefault();
      undo();
    }
  });
  new ResizeObserver(redraw).observe(canvas);
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", redraw);
  redraw();

  return { forget: () => { generation += 1; } };
}
