// The server's /v1/predict answer → the shapes to draw, each on its image, and the images a which-image answer
// picked. Coordinates stay in pixels of the original images; draw.js scales them to the thumbnails.
//
// Layouts of image_ids / labels (as vistakit.evaluation.present.per_kind reads them): a task's parser keeps one
// entry per instance, boxes and masks of one instance sharing an index; an answer read without a task keeps one
// entry per location span, in the order boxes, masks, keypoints, points.

const KINDS = ["box", "mask", "keypoints", "point"];

function listOf(value) {
  return Array.isArray(value) ? value : [];
}

/**
 * Shapes of an answer: [{kind, index, image, label, score, colour, geometry}] where geometry is [x1, y1, x2, y2]
 * (box), a COCO RLE (mask), [x, y] (point) or {names, xy, visibility} (keypoints); `colour` is the instance
 * number that picks its colour (a box and the mask of the same instance share it). `chosen` lists the images an
 * answer without locations picked (which-image tasks).
 */
export function readAnswer(result, nImages) {
  const geometry = {
    box: listOf(result.boxes),
    mask: listOf(result.masks),
    keypoints: listOf(result.keypoints),
    point: listOf(result.points),
  };
  const imageIds = listOf(result.image_ids);
  const labels = listOf(result.labels);
  const scores = listOf(result.scores);
  const total = KINDS.reduce((n, kind) => n + geometry[kind].length, 0);
  const perSpan = imageIds.length === total || labels.length === total;
  const onImage = (k) => (Number.isInteger(k) && k >= 0 && k < nImages ? k : 0);

  const shapes = [];
  let offset = 0;
  for (const kind of KINDS) {
    geometry[kind].forEach((g, i) => {
      const j = perSpan ? offset + i : i;
      let score = null;
      if (kind === "box" && scores.length === geometry.box.length) score = scores[i];
      if (kind === "mask" && !geometry.box.length && scores.length === geometry.mask.length) score = scores[i];
      shapes.push({
        kind, index: i, image: onImage(imageIds[j]), label: labels[j] || "", score, colour: j, geometry: g,
      });
    });
    offset += geometry[kind].length;
  }
  const chosen = total ? [] : imageIds.filter((k) => Number.isInteger(k) && k >= 0 && k < nImages);
  return { shapes, chosen };
}

/** One readable line per shape: "box 1 on image 2 'red circle' [10, 12, 40, 44] score 0.93". */
export function describeShape(shape) {
  const g = shape.geometry;
  const round = (v) => Math.round(v * 10) / 10;
  let where = "";
  if (shape.kind === "box") where = `[${g.map(round).join(", ")}]`;
  if (shape.kind === "point") where = `(${g.map(round).join(", ")})`;
  if (shape.kind === "mask") where = `${g.size[1]}×${g.size[0]} mask`;
  if (shape.kind === "keypoints") {
    const seen = listOf(g.visibility).filter((v) => v > 0).length;
    where = `${seen}/${listOf(g.names).length} keypoints visible`;
  }
  const label = shape.label ? ` '${shape.label}'` : "";
  const score = shape.score === null || shape.score === undefined ? "" : ` score ${Number(shape.score).toFixed(3)}`;
  return `${shape.kind} ${shape.index + 1} on image ${shape.image + 1}${label} ${where}${score}`;
}
