/**
 * Image decoding and resampling against references computed outside oto
 * (tools/make_image_fixtures.py): PIL's decoded pixels for every PNG/JPEG variant, MATLAB
 * imresize (a NumPy port checked against PIL in the script) and torch's antialiased resize.
 */
import assert from "node:assert/strict";
import { decodeBase64 } from "./fixtures_util.ts";
import { decodeImage, jpegFrame, sniffFormat, toFloatImage } from "../src/data/image.ts";
import {
  centerCropOffset,
  contributions,
  cropPlanes,
  resizeBytes,
  resizeCenterCrop,
  resizePlanes,
} from "../src/data/resample.ts";
import { DataError } from "../src/data/dataset.ts";
import { assertClose } from "./helpers.ts";

const DIR = new URL("./fixtures/images/", import.meta.url);
const fixture = async (name: string) => JSON.parse(await Deno.readTextFile(new URL(name, DIR)));

interface DecodeCase {
  mode: string;
  rgb: string;
  width: number;
  height: number;
  raw16?: string;
}

Deno.test("decode: every PNG/JPEG variant gives PIL's pixels", async () => {
  const cases: Record<string, DecodeCase> = await fixture("decode.json");
  const expectChannels: Record<string, number> = {
    "rgb.png": 3,
    "gray.png": 1,
    "gray_alpha.png": 2,
    "rgba.png": 4,
    "palette.png": 3,
    "gray16.png": 1,
    "baseline.jpg": 3,
    "subsampled.jpg": 3,
    "progressive.jpg": 3,
    "gray.jpg": 1,
    "cmyk.jpg": 3,
  };
  assert.deepEqual(Object.keys(cases).sort(), Object.keys(expectChannels).sort());
  for (const [name, c] of Object.entries(cases)) {
    const img = decodeImage(await Deno.readFile(new URL(name, DIR)), name);
    assert.equal(img.width, c.width, name);
    assert.equal(img.height, c.height, name);
    assert.equal(img.channels, expectChannels[name], `${name}: channels`);
    assert.equal(img.format, name.endsWith(".png") ? "png" : "jpeg");
    assert.equal(img.bitDepth, name === "gray16.png" ? 16 : 8, `${name}: bit depth`);
    if (c.raw16) {
      const raw = new Uint16Array(decodeBase64(c.raw16).buffer);
      assert.deepEqual(Array.from(img.data), Array.from(raw), `${name}: 16-bit samples kept`);
    }
    const got = toFloatImage(img, 3).data.map((v) => v * 255);
    // PIL's 16-bit to RGB conversion saturates at 255; the reference is then raw / 257.
    const want = c.raw16
      ? [0, 1, 2].flatMap(() =>
        Array.from(new Uint16Array(decodeBase64(c.raw16!).buffer), (v) => v / 257)
      )
      : decodeBase64(c.rgb); // PIL .convert("RGB"), CHW bytes
    // Grey and YCbCr JPEGs (4:4:4 and 4:2:0) go through libjpeg-turbo as in PIL: the same
    // levels. CMYK goes through jpeg-js's conversion: a few levels. PNG is lossless.
    const tol = name === "cmyk.jpg" ? 3 : 1e-3;
    assertClose(got, want, `${name} vs PIL`, tol, 0);
    if (name === "cmyk.jpg") assert.match(img.note ?? "", /CMYK/);
  }
});

Deno.test("decode: grey conversion is ITU-R 601-2 luma, alpha is dropped", () => {
  const rgba = {
    width: 2,
    height: 1,
    channels: 4 as const,
    bitDepth: 8 as const,
    data: Uint8Array.from([255, 0, 0, 7, 10, 20, 30, 255]),
    format: "png" as const,
  };
  const g = toFloatImage(rgba, 1).data;
  assertClose(g, [0.299, (0.299 * 10 + 0.587 * 20 + 0.114 * 30) / 255], "luma", 1e-6, 0);
  const rgb = toFloatImage(rgba, 3).data;
  assertClose(rgb, [1, 10 / 255, 0, 20 / 255, 0, 30 / 255], "alpha dropped, CHW", 1e-6, 0);
  const grey = { ...rgba, channels: 1 as const, data: Uint8Array.from([51, 102]) };
  assertClose(toFloatImage(grey, 3).data, [0.2, 0.4, 0.2, 0.4, 0.2, 0.4], "grey to RGB", 1e-6, 0);
});

Deno.test("decode: bad files are one-line errors naming the file", async () => {
  const good = await Deno.readFile(new URL("baseline.jpg", DIR));
  const png = await Deno.readFile(new URL("rgb.png", DIR));
  const cases: [string, Uint8Array, RegExp][] = [
    ["empty.png", new Uint8Array(0), /empty file/],
    ["text.jpg", new TextEncoder().encode("hello, not an image"), /not a PNG or JPEG/],
    ["cut.jpg", good.subarray(0, good.length >> 1), /cannot decode JPEG/],
    ["cut.png", png.subarray(0, png.length - 30), /cannot decode PNG/],
  ];
  const garbled = png.slice();
  for (let i = 60; i < garbled.length - 20; i += 7) garbled[i] ^= 0x5a;
  cases.push(["garbled.png", garbled, /cannot decode PNG/]);
  const sof3 = good.slice();
  const at = sof3.findIndex((b, i) => b === 0xff && sof3[i + 1] === 0xc0);
  sof3[at + 1] = 0xc3;
  cases.push(["lossless.jpg", sof3, /lossless JPEG \(SOF3\) is not supported/]);
  const p12 = good.slice();
  p12[at + 4] = 12;
  cases.push(["twelve.jpg", p12, /12-bit JPEG is not supported/]);
  for (const [name, bytes, re] of cases) {
    assert.throws(() => decodeImage(bytes, `/data/${name}`), (e: unknown) => {
      assert.ok(e instanceof DataError, `${name}: DataError`);
      assert.match(e.message, new RegExp(`^/data/${name.replace(".", "\\.")}: `), name);
      assert.match(e.message, re, name);
      assert.ok(!e.message.includes("\n"), `${name}: one line: ${e.message}`);
      return true;
    });
  }
});

Deno.test("decode: format sniffing and JPEG frame header", async () => {
  const jpg = await Deno.readFile(new URL("progressive.jpg", DIR));
  assert.equal(sniffFormat(jpg), "jpeg");
  assert.equal(sniffFormat(await Deno.readFile(new URL("gray.png", DIR))), "png");
  assert.equal(sniffFormat(Uint8Array.from([0x47, 0x49, 0x46, 0x38])), null);
  assert.deepEqual(jpegFrame(jpg), { sof: 2, precision: 8, width: 20, height: 16, components: 3 });
  const cmyk = jpegFrame(await Deno.readFile(new URL("cmyk.jpg", DIR)));
  assert.equal(cmyk?.components, 4);
});

Deno.test("resize: MATLAB imresize and PIL/torch antialiased resize", async () => {
  const f = await fixture("resize.json");
  const src = new Float64Array(decodeBase64(f.src).buffer);
  const { channels: c, height: h, width: w } = f;
  assert.equal(f.cases.length, 12);
  for (const k of f.cases) {
    for (const style of ["matlab", "pil"] as const) {
      const want = new Float32Array(decodeBase64(k[style]).buffer);
      const got = resizePlanes(src, c, h, w, k.outH, k.outW, { kernel: k.kernel, style });
      assertClose(got, want, `${style} ${k.kernel} ${h}x${w} -> ${k.outH}x${k.outW}`, 2e-3, 1e-5);
    }
  }
});

Deno.test("resize: closed forms", () => {
  // Weights sum to 1 and a constant image stays constant, in both styles.
  for (const style of ["matlab", "pil"] as const) {
    const k = contributions(7, 3, { style });
    for (let i = 0; i < 3; i++) {
      const s = k.weight.subarray(i * k.taps, (i + 1) * k.taps).reduce((a, v) => a + v, 0);
      assert.ok(Math.abs(s - 1) < 1e-12, `${style}: weights of output ${i} sum to ${s}`);
    }
    const flat = resizePlanes(new Float32Array(2 * 9 * 10).fill(0.3), 2, 9, 10, 4, 5, { style });
    assertClose(flat, new Float32Array(40).fill(0.3), `${style}: constant`, 1e-6, 0);
  }
  // A linear ramp is reproduced exactly by the bilinear kernel away from the borders, and
  // halving with a triangle kernel widened to 4 taps averages [1/8, 3/8, 3/8, 1/8].
  const ramp = Float32Array.from({ length: 16 }, (_, i) => i);
  const half = resizePlanes(ramp, 1, 1, 16, 1, 8, { kernel: "linear" });
  for (let j = 1; j < 7; j++) assert.ok(Math.abs(half[j] - (2 * j + 0.5)) < 1e-5, `ramp ${j}`);
  // [0, 255, 0, 255] halved with the widened triangle: output 0 samples at u = 0.5 with taps
  // -1..2 weighted 1/8, 3/8, 3/8, 1/8 and -1 mirrored onto 0: 255 * 3/8 = 95.6 -> 96; output 1
  // at u = 2.5, taps 1..4, 4 mirrored onto 3: 255 * (1/8 + 3/8 + 1/8) = 159.4 -> 159.
  const b = resizeBytes(Uint8Array.from([0, 255, 0, 255]), 1, 1, 4, 1, 2, { kernel: "linear" });
  assert.deepEqual(Array.from(b), [96, 159]);
  // PIL style drops tap -1 instead: (255 * 3/8) / (7/8) = 109.3 -> 109.
  const p = resizeBytes(Uint8Array.from([0, 255, 0, 255]), 1, 1, 4, 1, 2, {
    kernel: "linear",
    style: "pil",
  });
  assert.equal(p[0], 109);
});

Deno.test("resize: torchvision Resize + CenterCrop geometry", () => {
  assert.deepEqual(centerCropOffset(10, 10, 4, 4), [3, 3]);
  assert.deepEqual(centerCropOffset(9, 8, 4, 4), [2, 2]); // round(2.5) = 2 (half to even)
  assert.deepEqual(centerCropOffset(11, 8, 4, 4), [4, 2]); // round(3.5) = 4
  const x = Float32Array.from({ length: 2 * 4 * 6 }, (_, i) => i);
  assert.deepEqual(Array.from(cropPlanes(x, 2, 4, 6, 1, 2, 2, 3)), [
    8,
    9,
    10,
    14,
    15,
    16,
    32,
    33,
    34,
    38,
    39,
    40,
  ]);
  assert.throws(() => cropPlanes(x, 2, 4, 6, 3, 0, 2, 2), /outside the 4x6 image/);
  // A 12x20 image becomes 6x10 (shorter side 6) then crops the middle 6x6.
  const img = Float32Array.from({ length: 12 * 20 }, (_, i) => (i % 20) / 19);
  const out = resizeCenterCrop(img, 1, 12, 20, 6, 6);
  assert.equal(out.length, 36);
  const full = resizePlanes(img, 1, 12, 20, 6, 10, { kernel: "linear", style: "pil" });
  assertClose(out, cropPlanes(full, 1, 6, 10, 0, 2, 6, 6), "resize then centre crop", 0, 0);
});
