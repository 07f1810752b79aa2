// Files the user dropped or picked → decoded images the page can show and send.

export const MAX_IMAGES = 4;

function readAsDataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

/** The EXIF orientation (1..8) of a JPEG file's bytes; 1 (as stored) for other files or no orientation tag. */
export function jpegOrientation(buffer) {
  const v = new DataView(buffer);
  try {
    if (v.getUint16(0) !== 0xffd8) return 1; // not a JPEG
    let p = 2;
    while (p + 4 <= v.byteLength) {
      const marker = v.getUint16(p);
      if ((marker & 0xff00) !== 0xff00 || marker === 0xffda) return 1; // broken, or image data: no more metadata
      if (marker === 0xffe1 && v.getUint32(p + 4) === 0x45786966) { // APP1 "Exif"
        const tiff = p + 10;
        const little = v.getUint16(tiff) === 0x4949; // "II": little-endian
        const ifd = tiff + v.getUint32(tiff + 4, little);
        const entries = v.getUint16(ifd, little);
        for (let i = 0; i < entries; i++) {
          const entry = ifd + 2 + 12 * i;
          if (v.getUint16(entry, little) === 0x0112) return v.getUint16(entry + 8, little) || 1;
        }
        return 1;
      }
      p += 2 + v.getUint16(p + 2);
    }
  } catch {
    return 1; // truncated metadata: the decoder will decide whether the file is readable
  }
  return 1;
}

async function pngDataUrl(bitmap) {
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  canvas.getContext("2d").drawImage(bitmap, 0, 0);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  return readAsDataUrl(blob);
}

/**
 * Decode one file: {name, dataUrl, bitmap, width, height}. The file's own bytes are what the server gets, so it
 * sees the pixels the user chose, except for a JPEG with an EXIF rotation: the browser shows it rotated and the
 * server's decoder would not rotate it, so the page sends the rotated pixels as PNG and both share one frame.
 * Throws an Error naming the file when the browser cannot read it as an image.
 */
export async function loadImage(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    const kind = file.type || "unknown type";
    throw new Error(`'${file.name}' is not an image this page can read (${kind}); use a PNG, JPEG, WebP or BMP file`);
  }
  if (!bitmap.width || !bitmap.height) throw new Error(`'${file.name}' has no pixels`);
  const rotated = jpegOrientation(await file.arrayBuffer()) !== 1;
  const dataUrl = rotated ? await pngDataUrl(bitmap) : await readAsDataUrl(file);
  return { name: file.name, dataUrl, bitmap, width: bitmap.width, height: bitmap.height };
}
