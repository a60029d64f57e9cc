import assert from "node:assert/strict";
import * as o from "../mod.ts";
import { makeSynthetic } from "../src/data/synthetic.ts";
import type { ImageDataset } from "../src/data/dataset.ts";
import { assertClose } from "./helpers.ts";

/** 10 images 2×3×4 whose pixel value encodes (image, channel, row, col). */
function tiny(n = 10): ImageDataset {
  const C = 2, H = 3, W = 4;
  const images = new Float32Array(n * C * H * W);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < C; c++) {
      for (let r = 0; r < H; r++) {
        for (let q = 0; q < W; q++) {
          images[((i * C + c) * H + r) * W + q] = (i * 24 + c * 12 + r * 4 + q + 1) / 256;
        }
      }
    }
  }
  return {
    name: "tiny",
    images,
    labels: Int32Array.from({ length: n }, (_, i) => i % 3),
    n,
    channels: C,
    height: H,
    width: W,
    numClasses: 3,
  };
}

Deno.test("DataLoader: batch shapes, dtypes, last partial batch kept or dropped", async () => {
  const ds = tiny(10);
  const keep = new o.DataLoader(ds, { batchSize: 4, backend: "cpu" });
  assert.equal(keep.length, 3);
  const shapes: number[][] = [];
  const labels: number[] = [];
  for await (const { x, y } of keep) {
    assert.equal(x.dtype, "f32");
    assert.equal(y.dtype, "i32");
    assert.equal(x.backend, "cpu");
    shapes.push([...x.shape]);
    labels.push(...await y.array());
  }
  assert.deepEqual(shapes, [[4, 2, 3, 4], [4, 2, 3, 4], [2, 2, 3, 4]]);
  assert.deepEqual(labels, [...ds.labels]);
  const drop = new o.DataLoader(ds, { batchSize: 4, dropLast: true, backend: "cpu" });
  assert.equal(drop.length, 2);
  assert.equal(drop.size, 8);
  let count = 0;
  for await (const _ of drop) count++;
  assert.equal(count, 2);
});

Deno.test("DataLoader: seeded shuffling differs per epoch, repeats for the same seed", async () => {
  const ds = tiny(10);
  const epochOrder = async (l: o.DataLoader) => {
    const out: number[] = [];
    for await (const { x } of l) {
      const v = await x.array();
      for (let j = 0; j < x.shape[0]; j++) out.push(Math.round(v[j * 24] * 256 - 1) / 24);
    }
    return out;
  };
  const a = new o.DataLoader(ds, { batchSize: 3, shuffle: true, seed: 7, backend: "cpu" });
  const b = new o.DataLoader(ds, { batchSize: 3, shuffle: true, seed: 7, backend: "cpu" });
  const a0 = await epochOrder(a), a1 = await epochOrder(a);
  const b0 = await epochOrder(b), b1 = await epochOrder(b);
  assert.deepEqual(a0, b0, "same seed, same epoch 0");
  assert.deepEqual(a1, b1, "same seed, same epoch 1");
  assert.notDeepEqual(a0, a1, "epochs reshuffle");
  assert.deepEqual([...a0].sort((p, q) => p - q), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const c = new o.DataLoader(ds, { batchSize: 3, shuffle: true, seed: 8, backend: "cpu" });
  assert.notDeepEqual(await epochOrder(c), a0, "another seed, another order");
  assert.equal(a.epoch, 2);
  // Starting at batch 2 of epoch 1 (a run resumed mid-epoch) gives that epoch's tail.
  const tail: number[] = [];
  for await (const { x } of a.epochBatches(1, 2)) {
    const v = await x.array();
    for (let j = 0; j < x.shape[0]; j++) tail.push(Math.round(v[j * 24] * 256 - 1) / 24);
  }
  assert.deepEqual(tail, a1.slice(6));
  await assert.rejects(async () => {
    for await (const _ of a.epochBatches(1, 5)) { /* out of range */ }
  }, /first batch 5 out of range \[0, 4\]/);
});

Deno.test("Rng: a saved state continues the same sequence; bad states are refused", () => {
  const r = new o.Rng(42);
  r.normal(); // leaves a spare normal behind
  const st = JSON.parse(JSON.stringify(r.state()));
  const copy = o.Rng.fromState(st);
  assert.deepEqual(
    [copy.normal(), copy.next(), copy.nextU32()],
    [r.normal(), r.next(), r.nextU32()],
  );
  assert.throws(() => o.Rng.fromState({ s: [0, 0, 0, 0], spare: null }), /not a generator state/);
  assert.throws(() => o.Rng.fromState({ s: [1, 2], spare: null }), /not a generator state/);
});

Deno.test("DataLoader: per-channel normalisation", () => {
  const ds = tiny(2);
  const l = new o.DataLoader(ds, { batchSize: 2, mean: [0.1, 0.2], std: [0.5, 0.25] });
  const { x } = l.hostBatch(0, 0);
  const want = Float32Array.from(ds.images, (v, k) => {
    const c = Math.floor(k / 12) % 2;
    return (v - [0.1, 0.2][c]) / [0.5, 0.25][c];
  });
  assertClose(x, want, "normalised", 1e-6, 1e-6);
  assert.throws(
    () => new o.DataLoader(ds, { batchSize: 2, mean: [0.1], std: [1, 1] }),
    /mean has 1 and std 2 entries, the images have 2 channels/,
  );
});

Deno.test("DataLoader: random crop with zero padding and horizontal flip are seeded and exact", () => {
  const ds = tiny(6);
  const C = 2, H = 3, W = 4, pad = 1;
  const l = new o.DataLoader(ds, { batchSize: 6, cropPadding: pad, hflip: true, seed: 3 });
  const hb = l.hostBatch(0, 0);
  assert.deepEqual(
    hb.x,
    new o.DataLoader(ds, { batchSize: 6, cropPadding: 1, hflip: true, seed: 3 })
      .hostBatch(0, 0).x,
    "deterministic",
  );
  assert.notDeepEqual(hb.x, l.hostBatch(1, 0).x, "another epoch, other augmentations");
  // Every output image is the source shifted by (dy, dx) in [-1, 1]², zero-filled, maybe flipped.
  let flips = 0, shifts = 0;
  for (let j = 0; j < 6; j++) {
    const src = ds.images.subarray(j * 24, (j + 1) * 24);
    const out = hb.x.subarray(j * 24, (j + 1) * 24);
    const matches: string[] = [];
    for (let dy = -pad; dy <= pad; dy++) {
      for (let dx = -pad; dx <= pad; dx++) {
        for (const flip of [false, true]) {
          let ok = true;
          for (let c = 0; c < C && ok; c++) {
            for (let r = 0; r < H && ok; r++) {
              for (let q = 0; q < W && ok; q++) {
                const sr = r + dy, sq = (flip ? W - 1 - q : q) + dx;
                const v = sr < 0 || sr >= H || sq < 0 || sq >= W ? 0 : src[c * 12 + sr * W + sq];
                ok = out[c * 12 + r * W + q] === v;
              }
            }
          }
          if (ok) matches.push(`${dy},${dx},${flip}`);
        }
      }
    }
    assert.equal(matches.length, 1, `image ${j}: exactly one crop/flip explains it (${matches})`);
    if (matches[0].endsWith("true")) flips++;
    if (!matches[0].startsWith("0,0")) shifts++;
  }
  assert.ok(flips > 0 && flips < 6, `some but not all images flipped (${flips})`);
  assert.ok(shifts > 0, "some images shifted");
  // Without augmentation the batch is the data itself.
  const plain = new o.DataLoader(ds, { batchSize: 6 }).hostBatch(0, 0);
  assert.deepEqual(plain.x, ds.images);
});

Deno.test("DataLoader: batches live until the next one (unless kept); default backend", async () => {
  const ds = makeSynthetic({ n: 20, height: 8, width: 8, seed: 1 });
  const l = new o.DataLoader(ds, { batchSize: 8, shuffle: true });
  const seen: o.Tensor[] = [];
  let kept: o.Tensor | null = null;
  for await (const { x, y } of l) {
    assert.equal(x.backend, o.getDefaultBackend());
    assert.deepEqual(y.shape, [x.shape[0]]);
    for (const t of seen) assert.ok(t === kept || t.isDisposed, "previous batch freed");
    seen.push(x, y);
    if (!kept) kept = y.keep();
  }
  assert.ok(seen.filter((t) => t !== kept).every((t) => t.isDisposed), "last batch freed at end");
  assert.ok(!kept!.isDisposed, "kept tensor survives");
  assert.equal((await kept!.array()).length, 8);
  kept!.dispose();
});
