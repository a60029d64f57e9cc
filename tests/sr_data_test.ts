/**
 * Super-resolution data: DIV2K layout and HR folders written here, the embedded sample, aligned
 * patch pairs with their augmentation, and tiled upscaling equal to whole-image upscaling.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import * as o from "../mod.ts";
import {
  isDiv2k,
  loadDiv2k,
  loadSrFolder,
  loadSrSample,
  makeSrImage,
  type SrDataset,
} from "../src/data/sr.ts";
import { SrPatchLoader } from "../src/data/sr_loader.ts";
import { resizeBytes } from "../src/data/resample.ts";
import { evaluateSuperResolution, upscale } from "../src/nn/sr_eval.ts";
import { DataError } from "../src/data/dataset.ts";
import { pngBytes, rgbaOf } from "./image_files.ts";
import { assertClose } from "./helpers.ts";

const photo = (w: number, h: number, k: number) =>
  rgbaOf(w, h, (x, y) => [(x * 9 + k * 40) % 256, (y * 5 + x * x) % 256, ((x + y) * 3 + k) % 256]);

/** CHW bytes of an RGBA picture. */
function planes(rgba: Uint8Array, w: number, h: number): Uint8Array {
  const out = new Uint8Array(3 * w * h);
  for (let p = 0; p < w * h; p++) for (let c = 0; c < 3; c++) out[c * w * h + p] = rgba[p * 4 + c];
  return out;
}

Deno.test("SR data: DIV2K layout, with and without LR folders", async () => {
  const root = await Deno.makeTempDir();
  try {
    for (const [split, ids] of [["train", ["0001", "0002"]], ["valid", ["0801"]]] as const) {
      await Deno.mkdir(join(root, `DIV2K_${split}_HR`), { recursive: true });
      await Deno.mkdir(join(root, `DIV2K_${split}_LR_bicubic`, "X2"), { recursive: true });
      for (const [k, id] of ids.entries()) {
        const hr = photo(26, 20, k);
        await Deno.writeFile(join(root, `DIV2K_${split}_HR`, `${id}.png`), pngBytes(26, 20, hr));
        // An LR file that is NOT the bicubic one, to see that the file is used.
        await Deno.writeFile(
          join(root, `DIV2K_${split}_LR_bicubic`, "X2", `${id}x2.png`),
          pngBytes(13, 10, photo(13, 10, 9)),
        );
      }
    }
    assert.ok(await isDiv2k(root));
    const d = await loadDiv2k(root, { scale: 2 });
    assert.equal(d.split, "div2k");
    assert.equal(d.generatedLr, false);
    assert.deepEqual(d.train.images.map((i) => i.name), ["0001", "0002"]);
    assert.deepEqual(d.test.images.map((i) => i.name), ["0801"]);
    assert.deepEqual(d.train.images[0].lr, planes(photo(13, 10, 9), 13, 10));
    assert.deepEqual(d.train.images[1].hr, planes(photo(26, 20, 1), 26, 20));
    // x3 has no LR folder: made by bicubic downscaling of the HR image cropped to 24x18.
    const d3 = await loadDiv2k(root, { scale: 3, limit: 1, testLimit: 1 });
    assert.deepEqual([d3.train.images.length, d3.test.images.length], [1, 1]);
    assert.equal(d3.generatedLr, true);
    const img = d3.train.images[0];
    assert.deepEqual([img.height, img.width, img.hr.length, img.lr.length], [
      18,
      24,
      3 * 18 * 24,
      3 * 6 * 8,
    ]);
    const full = planes(photo(26, 20, 0), 26, 20);
    const crop = new Uint8Array(3 * 18 * 24);
    for (let c = 0; c < 3; c++) {
      for (let r = 0; r < 18; r++) {
        crop.set(full.subarray(c * 520 + r * 26, c * 520 + r * 26 + 24), (c * 18 + r) * 24);
      }
    }
    assert.deepEqual(img.hr, crop);
    assert.deepEqual(
      img.lr,
      resizeBytes(crop, 3, 18, 24, 6, 8, { kernel: "cubic", style: "matlab" }),
    );
    // An LR file of the wrong size is named.
    await Deno.writeFile(
      join(root, "DIV2K_valid_LR_bicubic", "X2", "0801x2.png"),
      pngBytes(12, 10, photo(12, 10, 0)),
    );
    await assert.rejects(
      loadDiv2k(root, { scale: 2 }),
      /0801x2\.png: is 10x12, HR .*0801\.png is 20x26: not a x2 pair/,
    );
    await Deno.remove(join(root, "DIV2K_valid_HR"), { recursive: true });
    await assert.rejects(loadDiv2k(root, { scale: 2 }), /DIV2K_valid_HR: not found/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("SR data: a folder of HR images, split by fraction or subfolders; bad files", async () => {
  const root = await Deno.makeTempDir();
  try {
    for (let k = 0; k < 5; k++) {
      await Deno.writeFile(join(root, `p${k}.png`), pngBytes(24, 24, photo(24, 24, k)));
    }
    const d = await loadSrFolder(root, { scale: 4, valSplit: 0.4, seed: 1 });
    assert.equal(d.split, "fraction");
    assert.deepEqual([d.train.images.length, d.test.images.length], [3, 2]);
    const names = [...d.train.images, ...d.test.images].map((i) => i.name).sort();
    assert.deepEqual(names, ["p0.png", "p1.png", "p2.png", "p3.png", "p4.png"]);
    for (const img of d.train.images) assert.deepEqual([img.scale, img.lr.length], [4, 3 * 6 * 6]);
    await Deno.writeTextFile(join(root, "bad.png"), "not a png");
    const err = await loadSrFolder(root, { scale: 2 }).catch((e) => e);
    assert.ok(
      err instanceof DataError &&
        err.message.startsWith(join(root, "bad.png") + ": not a PNG or JPEG"),
      String(err),
    );
    const skip = await loadSrFolder(root, { scale: 2, skipBadImages: true });
    assert.deepEqual(skip.skipped.map((s) => s.file), [join(root, "bad.png")]);
    await Deno.remove(join(root, "bad.png"));
    await Deno.mkdir(join(root, "train"));
    await Deno.mkdir(join(root, "val"));
    await Deno.rename(join(root, "p0.png"), join(root, "train", "a.png"));
    await Deno.rename(join(root, "p1.png"), join(root, "val", "b.png"));
    const f = await loadSrFolder(root, { scale: 2 });
    assert.equal(f.split, "folders");
    assert.deepEqual(f.test.images.map((i) => i.name), ["val/b.png"]);
    await assert.rejects(
      loadSrFolder(root, { scale: 2, valSplit: 0.5 }),
      /a val split does not apply/,
    );
    assert.throws(
      () => makeSrImage("tiny", new Uint8Array(3), 3, 1, 1, 2),
      /1x1 is smaller than the scale 2/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("SR data: the embedded sample loads at x2, x3, x4", async () => {
  for (const scale of [2, 3, 4]) {
    const d = await loadSrSample({ scale });
    assert.deepEqual([d.train.images.length, d.test.images.length], [8, 3]);
    for (const img of [...d.train.images, ...d.test.images]) {
      assert.deepEqual([img.height, img.width, img.lr.length], [192, 192, 3 * (192 / scale) ** 2]);
    }
  }
});

Deno.test("SR patches: aligned pairs, dihedral augmentation, reproducible per batch", () => {
  // One 12x12 HR image whose LR is its 2x2 box average: an aligned HR patch averages to
  // its LR patch under every flip and transposition (which commute with the averaging).
  const hr = new Uint8Array(3 * 144).map((_, i) => (i * 37 + (i >> 4) * 11) % 200);
  const lr = new Uint8Array(3 * 36);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < 6; y++) {
      for (let x = 0; x < 6; x++) {
        const at = (r: number, q: number) => hr[c * 144 + (2 * y + r) * 12 + 2 * x + q];
        lr[c * 36 + y * 6 + x] = (at(0, 0) + at(0, 1) + at(1, 0) + at(1, 1)) / 4;
      }
    }
  }
  const ds: SrDataset = {
    name: "t",
    scale: 2,
    channels: 3,
    images: [{ name: "a", channels: 3, height: 12, width: 12, scale: 2, hr, lr }],
  };
  const loader = new SrPatchLoader(ds, {
    patchSize: 3,
    batchSize: 4,
    patchesPerImage: 10,
    seed: 5,
  });
  assert.deepEqual([loader.size, loader.length], [10, 3]);
  const seen = new Set<string>();
  for (let b = 0; b < loader.length; b++) {
    const { x, y, n } = loader.hostBatch(1, b);
    for (let j = 0; j < n; j++) {
      for (let c = 0; c < 3; c++) {
        for (let i = 0; i < 3; i++) {
          for (let q = 0; q < 3; q++) {
            const at = (r: number, s: number) =>
              y[((j * 3 + c) * 6 + 2 * i + r) * 6 + 2 * q + s] * 255;
            // lr stores the average truncated to an integer level.
            const avg = Math.floor((at(0, 0) + at(0, 1) + at(1, 0) + at(1, 1)) / 4 + 1e-3);
            assert.equal(
              avg,
              Math.round(x[((j * 3 + c) * 3 + i) * 3 + q] * 255),
              `batch ${b} patch ${j}`,
            );
          }
        }
      }
      seen.add(Array.from(x.subarray(j * 27, j * 27 + 9)).join());
    }
  }
  assert.ok(seen.size >= 8, `patches differ (${seen.size} distinct of 10)`);
  assert.deepEqual(loader.hostBatch(1, 2), loader.hostBatch(1, 2));
  assert.notDeepEqual(loader.hostBatch(1, 0).x, loader.hostBatch(2, 0).x);
  // Without augmentation a patch is a plain window: its top-left LR value is somewhere in lr.
  const plain = new SrPatchLoader(ds, { patchSize: 6, batchSize: 1, augment: false });
  assertClose(plain.hostBatch(0, 0).x, Array.from(lr, (v) => v / 255), "whole LR image", 1e-7, 0);
  assert.throws(
    () => new SrPatchLoader(ds, { patchSize: 7, batchSize: 1 }),
    /LR image 6x6 is smaller than the 7x7 patch/,
  );
});

Deno.test("SR eval: tiled upscaling equals whole-image upscaling; PSNR of a perfect model", async () => {
  o.setDefaultBackend("cpu");
  // Two 3x3 convs (receptive radius 2 LR pixels) and a pixel shuffle.
  o.manualSeed(3);
  const model = new o.Sequential(
    new o.Conv2d(3, 8, 3, { padding: 1 }),
    new o.ReLU(),
    new o.Conv2d(8, 12, 3, { padding: 1 }),
    new o.PixelShuffle(2),
  );
  const lr = Float32Array.from({ length: 3 * 13 * 10 }, (_, i) => ((i * 7919) % 101) / 100);
  const whole = await upscale(model, lr, 3, 13, 10, 2);
  const tiled = await upscale(model, lr, 3, 13, 10, 2, { tile: 4, overlap: 2 });
  assertClose(tiled, whole, "tiles with overlap 2", 1e-6, 1e-6);
  const cut = await upscale(model, lr, 3, 13, 10, 2, { tile: 4, overlap: 0 });
  assert.ok(cut.some((v, i) => Math.abs(v - whole[i]) > 1e-4), "without overlap the seams differ");
  await assert.rejects(
    upscale(model, lr, 3, 13, 10, 3),
    /maps \[1,3,13,10\] to \[1,3,26,20\], expected \[1,3,39,30\]/,
  );
  // A "model" that returns the HR image exactly: infinite PSNR, SSIM 1, L1 0; bicubic finite.
  const d = await loadSrSample({ scale: 2, limit: 1, testLimit: 1 });
  assert.deepEqual([d.train.images.length, d.test.images.length], [1, 1]);
  const img = d.test.images[0];
  class Oracle extends o.Module {
    forward(_x: o.Tensor) {
      return o.tensor(Array.from(img.hr, (v) => v / 255), [1, 3, img.height, img.width]);
    }
  }
  const r = await evaluateSuperResolution(new Oracle(), d.test, { bicubic: true });
  assert.equal(r.psnr, Infinity);
  assert.ok(Math.abs(r.ssim - 1) < 1e-12);
  assert.ok(r.l1 < 1e-7);
  assert.ok(r.bicubic!.psnr > 20 && r.bicubic!.psnr < 45, `bicubic PSNR ${r.bicubic!.psnr}`);
});
