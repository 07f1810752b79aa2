// Shapes in original-image pixels → strokes on a thumbnail canvas drawn at `scale` canvas pixels per image pixel.

import { decodeRle } from "./rle.js";

const PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324"];

/** The colour of instance number `n` (cycles through a fixed palette). */
export function colourOf(n) {
  return PALETTE[((n % PALETTE.length) + PALETTE.length) % PALETTE.length];
}

function rgb(hex) {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

function tag(ctx, text, x, y, colour) {
  ctx.font = "12px sans-serif";
  const w = ctx.measureText(text).width + 6;
  const top = Math.max(0, y - 16);
  ctx.fillStyle = colour;
  ctx.fillRect(x, top, w, 16);
  ctx.fillStyle = "#fff";
  ctx.fillText(text, x + 3, top + 12);
}

export function drawBox(ctx, box, scale, colour, text) {
  const [x1, y1, x2, y2] = box.map((v) => v * scale);
  ctx.lineWidth = 2;
  ctx.strokeStyle = colour;
  ctx.strokeRect(x1, y1, Math.max(1, x2 - x1), Math.max(1, y2 - y1));
  if (text) tag(ctx, text, x1, y1, colour);
}

/** Tint the mask's pixels (a COCO RLE of the original image) half-transparently. */
export function drawMask(ctx, rle, scale, colour) {
  const { width, height, data } = decodeRle(rle);
  if (!width || !height) return;
  const tint = new ImageData(width, height);
  const [r, g, b] = rgb(colour);
  for (let i = 0; i < data.length; i++) {
    if (data[i]) tint.data.set([r, g, b, 128], 4 * i);
  }
  const layer = document.createElement("canvas");
  layer.width = width;
  layer.height = height;
  layer.getContext("2d").putImageData(tint, 0, 0);
  ctx.save();
  ctx.imageSmoothingEnabled = false; // keep the mask's pixel edges when the thumbnail enlarges it
  ctx.drawImage(layer, 0, 0, width * scale, height * scale);
  ctx.restore();
}

export function drawPoint(ctx, point, scale, colour, text) {
  const [x, y] = point.map((v) => v * scale);
  ctx.beginPath();
  ctx.arc(x, y, 5, 0, 2 * Math.PI);
  ctx.fillStyle = colour;
  ctx.fill();
  ctx.lineWidth = 2;
  ctx.strokeStyle = "#fff";
  ctx.stroke();
  if (text) tag(ctx, text, x + 7, y, colour);
}

/** Keypoints {names, xy, visibility}: filled dots where visible (2), rings where occluded (1), none where 0. */
export function drawKeypoints(ctx, keypoints, scale, colour) {
  keypoints.xy.forEach(([x, y], i) => {
    const v = keypoints.visibility[i];
    if (!v) return;
    ctx.beginPath();
    ctx.arc(x * scale, y * scale, 4, 0, 2 * Math.PI);
    ctx.lineWidth = 2;
    ctx.strokeStyle = colour;
    ctx.fillStyle = colour;
    if (v === 2) ctx.fill();
    ctx.stroke();
  });
}

/** Draw one shape from answer.js's readAnswer onto its image's overlay. */
export function drawShape(ctx, shape, scale) {
  const colour = colourOf(shape.colour);
  const score = shape.score === null || shape.score === undefined ? "" : ` ${Number(shape.score).toFixed(2)}`;
  const text = `${shape.label}${score}`.trim();
  if (shape.kind === "box") drawBox(ctx, shape.geometry, scale, colour, text);
  else if (shape.kind === "mask") drawMask(ctx, shape.geometry, scale, colour);
  else if (shape.kind === "point") drawPoint(ctx, shape.geometry, scale, colour, text);
  else if (shape.kind === "keypoints") drawKeypoints(ctx, shape.geometry, scale, colour);
}

/** A visual prompt the user drew (box or point, original pixels), numbered as its <region>. */
export function drawRegion(ctx, region, scale, number) {
  ctx.save();
  ctx.lineWidth = 2;
  if (region.type === "box") {
    const [x1, y1, x2, y2] = region.box.map((v) => v * scale);
    ctx.setLineDash([5, 3]);
    ctx.strokeStyle = "#000";
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    ctx.lineDashOffset = 4;
    ctx.strokeStyle = "#ff0";
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    if (number) tag(ctx, `R${number}`, x1, y1, "#333");
  } else {
    const [x, y] = region.point.map((v) => v * scale);
    ctx.strokeStyle = "#000";
    ctx.fillStyle = "#ff0";
    ctx.beginPath();
    ctx.arc(x, y, 6, 0, 2 * Math.PI);
    ctx.fill();
    ctx.stroke();
    if (number) tag(ctx, `R${number}`, x + 8, y, "#333");
  }
  ctx.restore();
}
