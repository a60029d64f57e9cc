/**
 * PNG and JPEG decoding to pixels, and conversion to the [0, 1] float planes the models take.
 *
 * Decoders, chosen by measured throughput and by what they handle (`bench/image_decode.ts`; on
 * 2 shared cores, photographs of Debian's python3-skimage, MPix per CPU-second):
 *
 * - PNG: `pngjs` (10.7): every colour type, 1-16 bits, palette, Adam7 interlace, 16-bit samples
 *   kept. `fast-png` was slower (4.9); `@cwasm/lodepng` (WASM, 19.3) reduces 16-bit images to 8
 *   bits and its only error is "Failed to decode png image".
 * - JPEG: libjpeg-turbo compiled to WASM (`@cwasm/jpeg-turbo`, 52.0; the library PIL uses,
 *   with the same pixels as PIL and torchvision) for grey and YCbCr JPEGs, baseline or
 *   progressive; `jpeg-js` (pure JS, 9.3; its chroma upsampling differs from libjpeg's by up to
 *   7 levels at colour edges) for Adobe CMYK/YCCK, which the WASM build cannot convert, and to
 *   name the problem when libjpeg-turbo rejects a file (it says only "Failed to decode JPEG
 *   data").
 *
 * The format is recognised by its magic bytes, not by the file name. What cannot be read
 * (12-bit, lossless or arithmetic-coded JPEG, a truncated or corrupt file) is a
 * {@link DataError} naming the file and the problem.
 *
 * @module
 */
import { Buffer } from "node:buffer";
// Inline npm: specifiers (versions as in deno.json): mod.ts must load without the project's
// import map, from any folder.
// deno-lint-ignore no-import-prefix
import pngjs from "npm:pngjs@7.0.0";
// deno-lint-ignore no-import-prefix
import jpegjs from "npm:jpeg-js@0.4.4";
// deno-lint-ignore no-import-prefix
import * as jpegTurbo from "npm:@cwasm/jpeg-turbo@0.1.3";
import { DataError } from "./dataset.ts";

/** Decoded pixels, interleaved (row-major, channels last), as the file stores them. */
export interface DecodedImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Channels of `data`: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA. */
  channels: 1 | 2 | 3 | 4;
  /** Bits per sample: 8, or 16 (16-bit PNG). */
  bitDepth: 8 | 16;
  /** `height * width * channels` samples. */
  data: Uint8Array | Uint16Array;
  /** The file's format. */
  format: "png" | "jpeg";
  /** A conversion the decoder made that the caller may want to know about (CMYK → RGB). */
  note?: string;
}

/** Which format `bytes` hold, from their magic bytes (null: neither PNG nor JPEG). */
export function sniffFormat(bytes: Uint8Array): "png" | "jpeg" | null {
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= 8 && png.every((b, i) => bytes[i] === b)) return "png";
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    return "jpeg";
  }
  return null;
}

/** What a JPEG's frame header says (the first SOF marker). */
export interface JpegFrame {
  /** The SOF marker's type: 0 baseline, 1 extended, 2 progressive, 3 lossless, 9+ arithmetic. */
  sof: number;
  precision: number;
  width: number;
  height: number;
  components: number;
}

/** Read a JPEG's frame header without decoding (null when no SOF marker is found). */
export function jpegFrame(bytes: Uint8Array): JpegFrame | null {
  let i = 2;
  while (i + 4 <= bytes.length) {
    if (bytes[i] !== 0xff) return null;
    const m = bytes[i + 1];
    if (m === 0xff) { // fill byte
      i++;
      continue;
    }
    if (m === 0xd8 || (m >= 0xd0 && m <= 0xd7) || m === 0x01) {
      i += 2;
      continue;
    }
    const len = (bytes[i + 2] << 8) | bytes[i + 3];
    const isSof = m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
    if (isSof && i + 10 <= bytes.length) {
      return {
        sof: m - 0xc0,
        precision: bytes[i + 4],
        height: (bytes[i + 5] << 8) | bytes[i + 6],
        width: (bytes[i + 7] << 8) | bytes[i + 8],
        components: bytes[i + 9],
      };
    }
    if (m === 0xda || len < 2) return null; // scan data before any frame header
    i += 2 + len;
  }
  return null;
}

function decodePng(bytes: Uint8Array): DecodedImage {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // skipRescale keeps 16-bit samples; pngjs expands every colour type to RGBA.
  const png = pngjs.PNG.sync.read(buf, { skipRescale: true });
  const { width, height } = png;
  const rgba = png.data as Uint8Array | Uint16Array;
  const bitDepth = png.depth === 16 ? 16 : 8;
  // The channels the file really has: colour type bit 2 = colour, bit 4 = alpha; a palette or
  // grey image with a tRNS chunk has alpha too.
  const color = (png.colorType & 2) !== 0;
  const alpha = (png.colorType & 4) !== 0 || png.alpha === true;
  const channels = ((color ? 3 : 1) + (alpha ? 1 : 0)) as 1 | 2 | 3 | 4;
  const n = width * height;
  if (rgba.length !== n * 4) {
    throw new Error(`decoder returned ${rgba.length} samples for ${width}x${height} RGBA`);
  }
  if (channels === 4) return { width, height, channels, bitDepth, data: rgba, format: "png" };
  const pick = color ? [0, 1, 2] : alpha ? [0, 3] : [0];
  const data = bitDepth === 16 ? new Uint16Array(n * channels) : new Uint8Array(n * channels);
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < channels; c++) data[p * channels + c] = rgba[p * 4 + pick[c]];
  }
  return { width, height, channels, bitDepth, data, format: "png" };
}

function decodeJpeg(bytes: Uint8Array): DecodedImage {
  const frame = jpegFrame(bytes);
  if (!frame) throw new Error("no JPEG frame header (SOF marker) found");
  if (frame.sof === 3 || frame.sof >= 9) {
    const kind = frame.sof === 3 ? "lossless" : "arithmetic-coded";
    throw new Error(`${kind} JPEG (SOF${frame.sof}) is not supported; re-save it as baseline`);
  }
  if (frame.precision !== 8) {
    throw new Error(`${frame.precision}-bit JPEG is not supported (8-bit only)`);
  }
  if (![1, 3, 4].includes(frame.components)) {
    throw new Error(`JPEG with ${frame.components} components is not supported`);
  }
  const base = { bitDepth: 8 as const, format: "jpeg" as const };
  if (frame.components === 4) {
    const img = jpegjs.decode(bytes, { useTArray: true, formatAsRGBA: false });
    if (img.data.length !== img.width * img.height * 3) {
      throw new Error(`jpeg-js returned ${img.data.length} samples for ${img.width}x${img.height}`);
    }
    return {
      ...base,
      width: img.width,
      height: img.height,
      channels: 3,
      data: img.data,
      note: "CMYK JPEG converted to RGB (no colour profile)",
    };
  }
  let rgba: { width: number; height: number; data: Uint8ClampedArray };
  try {
    rgba = jpegTurbo.decode(bytes);
  } catch (e) {
    // libjpeg-turbo says only "Failed to decode JPEG data" (or fails in its error handler);
    // jpeg-js usually names the problem. A file either rejects is not used.
    jpegjs.decode(bytes, { useTArray: true, formatAsRGBA: false });
    throw new Error(`corrupt or truncated data (libjpeg-turbo: ${(e as Error).message})`);
  }
  const { width, height } = rgba;
  const n = width * height, c = frame.components === 1 ? 1 : 3;
  if (rgba.data.length !== n * 4) {
    throw new Error(`libjpeg-turbo returned ${rgba.data.length} samples for ${width}x${height}`);
  }
  const data = new Uint8Array(n * c);
  for (let p = 0; p < n; p++) {
    for (let k = 0; k < c; k++) data[p * c + k] = rgba.data[p * 4 + k];
  }
  return { ...base, width, height, channels: c as 1 | 3, data };
}

/**
 * Decode a PNG or JPEG file's bytes.
 *
 * @param file the file name used in error messages
 * @throws {DataError} naming `file`: not PNG or JPEG, unsupported variant, truncated or corrupt
 */
export function decodeImage(bytes: Uint8Array, file: string): DecodedImage {
  const format = sniffFormat(bytes);
  if (!format) {
    const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0"));
    throw new DataError(
      file,
      bytes.length === 0
        ? "empty file, expected a PNG or JPEG image"
        : `not a PNG or JPEG image (starts with ${head.join(" ")})`,
    );
  }
  try {
    return format === "png" ? decodePng(bytes) : decodeJpeg(bytes);
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).split("\n")[0];
    throw new DataError(file, `cannot decode ${format.toUpperCase()}: ${msg}`, undefined, {
      cause: e,
    });
  }
}

/** An image as float planes: `channels` planes of `height * width` values in [0, 1] (CHW). */
export interface FloatImage {
  /** Planes (1 grey, 3 RGB). */
  channels: number;
  /** Height in pixels. */
  height: number;
  /** Width in pixels. */
  width: number;
  /** `channels * height * width` values in [0, 1], plane after plane. */
  data: Float32Array;
}

/**
 * Planes in [0, 1] with the requested number of channels, as PIL's `convert`: grey becomes RGB
 * by repeating it, RGB becomes grey by ITU-R 601-2 luma (0.299 R + 0.587 G + 0.114 B), alpha is
 * dropped (not composited).
 */
export function toFloatImage(img: DecodedImage, channels: 1 | 3): FloatImage {
  const { width, height, channels: ic, data } = img;
  const n = width * height;
  const out = new Float32Array(channels * n);
  const inv = 1 / (img.bitDepth === 16 ? 65535 : 255);
  const colour = ic >= 3;
  for (let p = 0; p < n; p++) {
    const s = p * ic;
    if (channels === 3) {
      for (let c = 0; c < 3; c++) out[c * n + p] = data[s + (colour ? c : 0)] * inv;
    } else {
      out[p] = colour
        ? (0.299 * data[s] + 0.587 * data[s + 1] + 0.114 * data[s + 2]) * inv
        : data[s] * inv;
    }
  }
  return { channels, height, width, data: out };
}

/**
 * 8-bit planes (CHW) with the requested channels, converted as {@link toFloatImage}; 16-bit
 * samples are rounded to 8 bits.
 */
export function toBytePlanes(img: DecodedImage, channels: 1 | 3): Uint8Array {
  const f = toFloatImage(img, channels).data;
  const out = new Uint8Array(f.length);
  for (let i = 0; i < f.length; i++) out[i] = Math.round(f[i] * 255);
  return out;
}
