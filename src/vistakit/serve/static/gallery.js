// The images as thumbnails, each a stack of three canvases: the photo, the answer's overlay, and the user's
// visual prompts (the top one, which takes the mouse: drag draws a box, a click places a point).

import { drawRegion, drawShape } from "./draw.js";

const MAX_SIDE = 320; // CSS pixels of a thumbnail's longer side
const CLICK_SLOP = 4; // a press that moves less than this many canvas pixels is a click, not a drag

function canvas(className, id, width, height) {
  const c = document.createElement("canvas");
  c.className = className;
  c.id = id;
  c.width = width;
  c.height = height;
  return c;
}

const round1 = (v) => Math.round(v * 10) / 10;

export class Gallery {
  /** `onRegion(region)` gets {type: "box", image, box} or {type: "point", image, point}, original pixels;
   * `onRemove(k)` asks to remove image k. */
  constructor(container, { onRegion, onRemove }) {
    this.container = container;
    this.onRegion = onRegion;
    this.onRemove = onRemove;
    this.views = [];
  }

  /** Rebuild the thumbnails for `images` (from images.js). */
  render(images) {
    this.container.replaceChildren();
    this.views = images.map((image, k) => this._view(image, k));
    this.views.forEach((v) => this.container.append(v.figure));
  }

  _view(image, k) {
    const scale = MAX_SIDE / Math.max(image.width, image.height);
    const w = Math.max(1, Math.round(image.width * scale));
    const h = Math.max(1, Math.round(image.height * scale));
    const figure = document.createElement("figure");
    figure.className = "shot";
    figure.id = `image-${k}`;
    const stack = document.createElement("div");
    stack.className = "stack";
    stack.style.width = `${w}px`;
    stack.style.height = `${h}px`;
    const photo = canvas("photo", `photo-${k}`, w, h);
    const overlay = canvas("overlay", `overlay-${k}`, w, h);
    const regions = canvas("regions", `regions-${k}`, w, h);
    overlay.setAttribute("aria-label", `Answer drawn over image ${k + 1}`);
    regions.setAttribute("role", "img");
    regions.setAttribute("aria-label", `Image ${k + 1}, ${image.name}: drag to draw a box, click to place a point`);
    const ctx = photo.getContext("2d");
    ctx.imageSmoothingEnabled = scale < 1; // enlarge small images with crisp pixels
    ctx.drawImage(image.bitmap, 0, 0, w, h);
    stack.append(photo, overlay, regions);

    const caption = document.createElement("figcaption");
    const name = document.createElement("span");
    name.textContent = `Image ${k + 1}: ${image.name} (${image.width}×${image.height})`;
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.textContent = "chosen";
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "remove";
    remove.textContent = "×";
    remove.setAttribute("aria-label", `Remove image ${k + 1}`);
    remove.addEventListener("click", () => this.onRemove(k));
    caption.append(name, badge, remove);
    figure.append(stack, caption);

    const view = { figure, overlay, regions, scale: w / image.width, width: image.width, height: image.height };
    this._listen(view, k);
    return view;
  }

  _listen(view, k) {
    const c = view.regions;
    let start = null;
    const at = (e) => {
      const r = c.getBoundingClientRect();
      return [Math.min(Math.max(e.clientX - r.left, 0), c.width), Math.min(Math.max(e.clientY - r.top, 0), c.height)];
    };
    c.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      start = at(e);
      c.setPointerCapture(e.pointerId);
    });
    c.addEventListener("pointermove", (e) => {
      if (!start) return;
      const [x, y] = at(e);
      this._redrawRegions(view, k);
      const ctx = c.getContext("2d");
      ctx.setLineDash([4, 3]);
      ctx.strokeStyle = "#ff0";
      ctx.lineWidth = 2;
      ctx.strokeRect(start[0], start[1], x - start[0], y - start[1]);
      ctx.setLineDash([]);
    });
    const finish = (e, cancelled) => {
      if (!start) return;
      const [x, y] = at(e);
      const [x0, y0] = start;
      start = null;
      if (cancelled) return this._redrawRegions(view, k);
      const s = view.scale;
      if (Math.abs(x - x0) < CLICK_SLOP && Math.abs(y - y0) < CLICK_SLOP) {
        this.onRegion({ type: "point", image: k, point: [round1(x0 / s), round1(y0 / s)] });
      } else {
        const box = [Math.min(x0, x), Math.min(y0, y), Math.max(x0, x), Math.max(y0, y)];
        this.onRegion({ type: "box", image: k, box: box.map((v) => round1(v / s)) });
      }
    };
    c.addEventListener("pointerup", (e) => finish(e, false));
    c.addEventListener("pointercancel", (e) => finish(e, true));
  }

  /** Draw the visual prompts (numbered in <region> order) on their images. */
  drawRegions(regions) {
    this.regions = regions;
    this.views.forEach((v, k) => this._redrawRegions(v, k));
  }

  _redrawRegions(view, k) {
    const ctx = view.regions.getContext("2d");
    ctx.clearRect(0, 0, view.regions.width, view.regions.height);
    (this.regions || []).forEach((r, i) => {
      if (r.image === k) drawRegion(ctx, r, view.scale, i + 1);
    });
  }

  /** Draw an answer's shapes on their images and mark the chosen images; `imageSizes` ([w, h] per image, as the
   * server read them) sets the scale so overlays line up even if the browser decoded a different size. */
  drawAnswer(shapes, chosen, imageSizes) {
    this.clearAnswer();
    this.views.forEach((v, k) => {
      const size = imageSizes && imageSizes[k];
      const scale = size ? v.overlay.width / size[0] : v.scale;
      const ctx = v.overlay.getContext("2d");
      shapes.filter((s) => s.image === k).forEach((s) => drawShape(ctx, s, scale));
      if (chosen.includes(k)) v.figure.classList.add("chosen");
    });
  }

  clearAnswer() {
    this.views.forEach((v) => {
      v.overlay.getContext("2d").clearRect(0, 0, v.overlay.width, v.overlay.height);
      v.figure.classList.remove("chosen");
    });
  }
}
