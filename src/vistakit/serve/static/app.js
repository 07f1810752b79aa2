// The page: images in, a task and prompt (with visual prompts), Run → POST /v1/predict → the answer drawn.

import { describeShape, readAnswer } from "./answer.js";
import { fetchTasks, predict } from "./api.js";
import { colourOf } from "./draw.js";
import { Gallery } from "./gallery.js";
import { MAX_IMAGES, loadImage } from "./images.js";

const REGION = "<region>";
const $ = (id) => document.getElementById(id);

const state = {
  images: [], // from images.js, in the order the prompt numbers them
  regions: [], // visual prompts, original pixels, in <region> order
  tasks: new Map(), // name → prompt templates
  request: 0, // id of the latest Run; older answers are dropped
};

const gallery = new Gallery($("gallery"), { onRegion: addRegion, onRemove: removeImage });

function show(el, text) {
  el.textContent = text || "";
  el.hidden = !text;
}

const countRegions = (prompt) => prompt.split(REGION).length - 1;
const taskTemplate = () => (state.tasks.get($("task").value) || [])[0] || "";

// --- images ------------------------------------------------------------------------------------------------
async function addFiles(files) {
  const problems = [];
  for (const file of files) {
    if (state.images.length >= MAX_IMAGES) {
      problems.push(`At most ${MAX_IMAGES} images: '${file.name}' was not added.`);
      continue;
    }
    try {
      state.images.push(await loadImage(file));
    } catch (err) {
      problems.push(err.message);
    }
  }
  show($("image-message"), problems.join(" "));
  imagesChanged();
}

function removeImage(k) {
  state.images.splice(k, 1);
  state.regions = state.regions
    .filter((r) => r.image !== k)
    .map((r) => (r.image > k ? { ...r, image: r.image - 1 } : r));
  show($("image-message"), "");
  imagesChanged();
}

function imagesChanged() {
  gallery.render(state.images);
  clearAnswer();
  regionsChanged();
  $("run").disabled = !state.images.length;
}

// --- visual prompts ----------------------------------------------------------------------------------------
function addRegion(region) {
  state.regions.push(region);
  const prompt = $("prompt");
  if (countRegions(prompt.value) < state.regions.length) {
    prompt.value = prompt.value.trimEnd() + (prompt.value.trim() ? " " : "") + REGION;
  }
  regionsChanged();
}

function removeRegion(i) {
  state.regions.splice(i, 1);
  const prompt = $("prompt");
  const parts = prompt.value.split(REGION);
  const n = parts.length - 1;
  // drop the region's placeholder if the prompt now has more than both the regions and its template ask for
  if (n > state.regions.length && n > countRegions(taskTemplate())) {
    const at = Math.min(i, n - 1); // the i-th placeholder, or the last one when the user deleted some
    const before = parts.slice(0, at + 1).join(REGION);
    const after = parts.slice(at + 1).join(REGION);
    prompt.value = (/^[\s.,;:?!]|^$/.test(after) ? before.trimEnd() : before) + after;
  }
  regionsChanged();
}

function regionsChanged() {
  const list = $("region-list");
  list.replaceChildren();
  state.regions.forEach((r, i) => {
    const item = document.createElement("li");
    const where = r.type === "box" ? `[${r.box.join(", ")}]` : `(${r.point.join(", ")})`;
    item.append(`${r.type} on image ${r.image + 1} ${where} `);
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "Remove";
    remove.setAttribute("aria-label", `Remove visual prompt ${i + 1}`);
    remove.addEventListener("click", () => removeRegion(i));
    item.append(remove);
    list.append(item);
  });
  $("no-regions").hidden = state.regions.length > 0;
  gallery.drawRegions(state.regions);
}

// --- task and prompt ---------------------------------------------------------------------------------------
async function loadTasks() {
  try {
    for (const task of await fetchTasks()) {
      state.tasks.set(task.name, task.templates);
      const option = document.createElement("option");
      option.value = task.name;
      option.textContent = task.trained === false ? `${task.name} (not trained)` : task.name;
      $("task").append(option);
    }
  } catch (err) {
    show($("error"), `Could not load the task list: ${err.message}. Free prompts still work.`);
  }
}

function taskChanged() {
  const template = taskTemplate();
  const prompt = $("prompt");
  prompt.value = template;
  for (let k = countRegions(template); k < state.regions.length; k++) prompt.value += ` ${REGION}`;
  const slot = /\{\w+\}/.exec(template); // select the first slot (e.g. {phrase}) so typing replaces it
  if (slot) {
    prompt.focus();
    prompt.setSelectionRange(slot.index, slot.index + slot[0].length);
  }
}

/** What stops the request from making sense, as a message, or "" when it can go. */
function problemWithRequest(prompt) {
  if (!state.images.length) return "Add at least one image first.";
  if (!prompt.trim()) return "Write a prompt (or pick a task).";
  const slots = [...taskTemplate().matchAll(/\{(\w+)\}/g)].map((m) => m[0]);
  const unfilled = slots.filter((s) => prompt.includes(s));
  if (unfilled.length) return `Replace ${unfilled.join(", ")} in the prompt with your words.`;
  const n = countRegions(prompt);
  if (n > state.regions.length) {
    return `The prompt has ${n} ${REGION} but ${state.regions.length} visual prompt(s): drag a box or click a point on an image for each.`;
  }
  return "";
}

// --- run and answer ----------------------------------------------------------------------------------------
function setBusy(busy) {
  $("run").disabled = busy || !state.images.length;
  $("busy").hidden = !busy;
  $("result").setAttribute("aria-busy", String(busy));
  document.body.classList.toggle("busy", busy);
}

function clearAnswer() {
  show($("error"), "");
  $("answer-text").textContent = "";
  show($("answer-output"), "");
  $("answer-details").replaceChildren();
  $("answer-json").textContent = "";
  gallery.clearAnswer();
}

function showAnswer(result) {
  const { shapes, chosen } = readAnswer(result, state.images.length);
  $("answer-text").textContent = result.text || "(no text)";
  const raw = typeof result.answer === "string" && result.answer !== result.text ? result.answer : "";
  show($("answer-output"), raw && `model output: ${raw}`);
  const details = $("answer-details");
  for (const shape of shapes) {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = colourOf(shape.colour);
    item.append(swatch, describeShape(shape));
    details.append(item);
  }
  const line = (text, className) => {
    const item = document.createElement("li");
    item.textContent = text;
    if (className) item.className = className;
    details.append(item);
  };
  if (chosen.length) line(`chosen: ${chosen.map((k) => `image ${k + 1}`).join(", ")}`, "chosen-line");
  if (result.empty) line("the answer says: no such object");
  for (const warning of result.warnings || []) line(`warning: ${warning}`, "warning");
  for (const problem of result.problems || []) line(`problem: ${problem}`, "problem");
  $("answer-json").textContent = JSON.stringify(result, null, 2);
  gallery.drawAnswer(shapes, chosen, result.image_sizes);
}

async function run(event) {
  event.preventDefault();
  const prompt = $("prompt").value;
  clearAnswer();
  const problem = problemWithRequest(prompt);
  if (problem) return show($("error"), problem);
  const id = ++state.request;
  setBusy(true);
  try {
    const result = await predict({
      images: state.images.map((im) => im.dataUrl),
      prompt,
      task: $("task").value || null,
      regions: state.regions,
      max_new_tokens: Number($("max-new-tokens").value) || 256,
    });
    if (id === state.request) showAnswer(result);
  } catch (err) {
    if (id === state.request) {
      const status = err.status ? ` (HTTP ${err.status}${err.param ? `, ${err.param}` : ""})` : "";
      show($("error"), `The server refused: ${err.message}${status}`);
    }
  } finally {
    if (id === state.request) setBusy(false);
  }
}

// --- wiring ------------------------------------------------------------------------------------------------
function wire() {
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (e) => {
    e.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    addFiles([...e.dataTransfer.files]);
  });
  $("file-input").addEventListener("change", (e) => {
    addFiles([...e.target.files]);
    e.target.value = ""; // picking the same file again still fires change
  });
  $("task").addEventListener("change", taskChanged);
  $("ask").addEventListener("submit", run);
  $("prompt").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) $("ask").requestSubmit();
  });
  regionsChanged();
  loadTasks().then(() => document.body.setAttribute("data-ready", "true"));
}

wire();
