// COCO run-length masks → pixels, for drawing the server's masks ({size: [h, w], counts: string}).
//
// The counts string is pycocotools' compressed form: every run length is written as 5-bit groups, least
// significant first, each group stored as one character (code - 48); bit 0x20 says another group follows, and
// bit 0x10 of the last group is the sign. From the fourth run on, a run is stored as its difference from the
// run two places before it. Runs alternate background / foreground, starting with background, and walk the
// image column by column (column-major), as pycocotools does.

/** The run lengths of a compressed counts string (throws on malformed text). */
export function runLengths(counts) {
  if (typeof counts !== "string") {
    throw new TypeError(`RLE counts must be a string (pycocotools' compressed form), got ${typeof counts}`);
  }
  const runs = [];
  let p = 0;
  while (p < counts.length) {
    let value = 0;
    let shift = 0;
    let more = true;
    while (more) {
      if (p >= counts.length) throw new Error(`RLE counts end inside a number at character ${p}`);
      const code = counts.charCodeAt(p) - 48;
      if (code < 0 || code > 63) throw new Error(`RLE counts: character ${JSON.stringify(counts[p])} at ${p} is not in the code range '0'..'o'`);
      value += (code & 0x1f) * 2 ** shift; // arithmetic, not <<: runs of big masks pass 32 bits of shift
      shift += 5;
      more = (code & 0x20) !== 0;
      p += 1;
      if (!more && (code & 0x10)) value -= 2 ** shift; // sign-extend the last group
    }
    if (runs.length > 2) value += runs[runs.length - 2];
    if (value < 0) throw new Error(`RLE counts: run ${runs.length} is negative (${value})`);
    runs.push(value);
  }
  return runs;
}

/**
 * Decode a COCO RLE {size: [h, w], counts} → {width, height, data}, data a Uint8Array of height×width
 * (row-major: data[y * width + x] is 1 inside the mask, 0 outside).
 */
export function decodeRle(rle) {
  if (!rle || !Array.isArray(rle.size) || rle.size.length !== 2) {
    throw new TypeError(`a COCO RLE needs size [h, w], got ${JSON.stringify(rle && rle.size)}`);
  }
  const [height, width] = rle.size;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 0 || width < 0) {
    throw new TypeError(`RLE size must be two non-negative integers [h, w], got ${JSON.stringify(rle.size)}`);
  }
  const runs = runLengths(rle.counts);
  const total = runs.reduce((a, b) => a + b, 0);
  if (total !== height * width) {
    throw new Error(`RLE runs cover ${total} pixels, expected h×w = ${height}×${width} = ${height * width}`);
  }
  const data = new Uint8Array(height * width);
  let i = 0; // column-major pixel index: x = floor(i / height), y = i % height
  runs.forEach((run, k) => {
    if (k % 2 === 1) {
      for (let j = i; j < i + run; j++) data[(j % height) * width + Math.floor(j / height)] = 1;
    }
    i += run;
  });
  return { width, height, data };
}
