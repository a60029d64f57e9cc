/** Writing PNG and JPEG files in tests, with the npm encoders (pngjs, jpeg-js). */
import { Buffer } from "node:buffer";
import pngjs from "pngjs";
import jpegjs from "jpeg-js";

/** RGBA bytes of a `width x height` image from a per-pixel colour function. */
export function rgbaOf(
  width: number,
  height: number,
  color: (x: number, y: number) => [number, number, number],
): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = color(x, y);
      data.set([r, g, b, 255], (y * width + x) * 4);
    }
  }
  return data;
}

/** PNG bytes; `colorType` 0 (grey), 2 (RGB), 4 (grey+alpha) or 6 (RGBA); 8 or 16 bits. */
export function pngBytes(
  width: number,
  height: number,
  rgba: Uint8Array,
  opts: { colorType?: 0 | 2 | 4 | 6; bitDepth?: 8 | 16 } = {},
): Uint8Array {
  // 16-bit: pngjs reads the input as native 16-bit words.
  const data = opts.bitDepth === 16
    ? Buffer.from(Uint16Array.from(rgba, (v) => v * 257).buffer)
    : Buffer.from(rgba);
  const png = { width, height, data };
  return new Uint8Array(pngjs.PNG.sync.write(png, {
    colorType: opts.colorType ?? 2,
    bitDepth: opts.bitDepth ?? 8,
    inputColorType: 6,
    inputHasAlpha: true,
  }));
}

/** Baseline JPEG bytes (jpeg-js encoder, 4:2:0). */
export function jpegBytes(
  width: number,
  height: number,
  rgba: Uint8Array,
  quality = 95,
): Uint8Array {
  return new Uint8Array(jpegjs.encode({ width, height, data: rgba }, quality).data);
}
