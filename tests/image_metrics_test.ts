/**
 * PSNR and SSIM on the Y channel against skimage (tools/make_image_fixtures.py: rgb2ycbcr,
 * peak_signal_noise_ratio, Gaussian structural_similarity) and closed forms.
 */
import assert from "node:assert/strict";
import { decodeBase64 } from "./fixtures_util.ts";
import { imageQuality, psnr, ssim } from "../src/nn/image_metrics.ts";

const DIR = new URL("./fixtures/images/", import.meta.url);

Deno.test("image metrics: PSNR and SSIM on Y with border crop equal skimage's", async () => {
  const f = JSON.parse(await Deno.readTextFile(new URL("metrics.json", DIR)));
  assert.equal(f.cases.length, 3);
  for (const c of f.cases) {
    const planes = (s: string) => ({
      data: Float32Array.from(decodeBase64(s), (v) => v / 255),
      channels: 3,
      height: c.height,
      width: c.width,
    });
    const sr = planes(c.sr), hr = planes(c.hr);
    const q = imageQuality(sr, hr, { crop: c.scale });
    const what = `${c.height}x${c.width} x${c.scale}`;
    assert.ok(Math.abs(q.psnr - c.psnrY) < 1e-6, `${what}: PSNR-Y ${q.psnr} vs ${c.psnrY}`);
    assert.ok(Math.abs(q.ssim - c.ssimY) < 1e-6, `${what}: SSIM-Y ${q.ssim} vs ${c.ssimY}`);
    const rgb = psnr(sr, hr, { crop: c.scale, on: "rgb" });
    assert.ok(Math.abs(rgb - c.psnrRgb) < 1e-6, `${what}: PSNR-RGB ${rgb} vs ${c.psnrRgb}`);
  }
});

Deno.test("image metrics: closed forms", () => {
  const n = 20 * 24;
  const hr = { data: new Float32Array(3 * n).fill(128 / 255), channels: 3, height: 20, width: 24 };
  // A +-d offset on every pixel of every channel: MSE on Y = (d * (65.481 + 128.553 +
  // 24.966) / 255)^2 = (d * 219 / 255)^2 levels.
  const d = 4;
  const sr = { ...hr, data: hr.data.map((v, i) => v + ((i % 24) % 2 ? d : -d) / 255) };
  const want = 20 * Math.log10(255 / (d * 219 / 255));
  assert.ok(Math.abs(psnr(sr, hr, { crop: 2 }) - want) < 1e-9, "PSNR of a +-4 pattern");
  assert.equal(psnr(hr, hr), Infinity);
  assert.ok(Math.abs(ssim(hr, hr, { crop: 3 }) - 1) < 1e-12, "SSIM of equal images is 1");
  // Two constant images a, b: SSIM = (2ab + C1) / (a^2 + b^2 + C1) (no variance).
  const a = 100, b = 140, c1 = (0.01 * 255) ** 2;
  const grey = (v: number) => ({
    data: new Float32Array(n).fill(v / 255),
    channels: 1,
    height: 20,
    width: 24,
  });
  const s = ssim(grey(a), grey(b));
  assert.ok(Math.abs(s - (2 * a * b + c1) / (a * a + b * b + c1)) < 1e-12, `constant SSIM ${s}`);
  // Values are rounded to 8-bit levels first unless asked not to.
  const off = { ...hr, data: hr.data.map((v) => v + 0.3 / 255) };
  assert.equal(psnr(off, hr, { on: "rgb" }), Infinity);
  assert.ok(Number.isFinite(psnr(off, hr, { on: "rgb", quantize: false })));
  // The crop removes the borders: a difference only in the outer 2 pixels is not measured.
  const edge = { ...hr, data: hr.data.slice() };
  for (let c = 0; c < 3; c++) edge.data[c * n + 1 * 24 + 1] = 1;
  assert.equal(psnr(edge, hr, { crop: 2 }), Infinity);
  assert.ok(psnr(edge, hr, { crop: 1 }) < 60);
  assert.throws(() => ssim(grey(1), grey(2), { crop: 5 }), /smaller than the 11x11 window/);
  assert.throws(() => psnr(grey(1), hr), /differ in shape/);
  assert.throws(() => psnr(grey(1), grey(1), { crop: 10 }), /border crop 10 leaves nothing/);
});
