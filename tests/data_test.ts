import assert from "node:assert/strict";
import { join } from "node:path";
import {
  classCounts,
  DataError,
  type ImageDataset,
  subsetDataset,
  validateDataset,
} from "../src/data/dataset.ts";
import {
  decodeIdx,
  encodeIdx,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DIR,
  gzip,
  IDX_IMAGES_MAGIC,
  loadFashionMnist,
  loadIdxDataset,
  loadSample,
  readIdx,
  writeIdx,
} from "../src/data/idx.ts";
import {
  CIFAR100_RECORD,
  CIFAR10_CLASSES,
  CIFAR10_RECORD,
  decodeCifar,
  loadCifar10,
  loadCifar100,
} from "../src/data/cifar.ts";
import { makeSynthetic, mulberry32 } from "../src/data/synthetic.ts";

/** Await `p`, expect a DataError whose message contains every fragment. */
async function expectDataError(p: Promise<unknown>, ...fragments: string[]): Promise<DataError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof DataError, `expected DataError, got ${e}`);
    for (const f of fragments) {
      assert.ok(e.message.includes(f), `message ${JSON.stringify(e.message)} lacks ${f}`);
    }
    return e;
  }
  throw new assert.AssertionError({ message: "expected a DataError, nothing was thrown" });
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "oto_data_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Write a small valid MNIST-style data set (n images of h×w) into `dir`. */
async function writeTinyIdx(
  dir: string,
  n: number,
  { h = 4, w = 3, labelsN = n, prefix = "train", gz = true } = {},
): Promise<{ images: string; labels: string; pixels: Uint8Array }> {
  const pixels = Uint8Array.from({ length: n * h * w }, (_, i) => (i * 37) % 256);
  const labels = Uint8Array.from({ length: labelsN }, (_, i) => i % 10);
  const ext = gz ? ".gz" : "";
  const images = join(dir, `${prefix}-images-idx3-ubyte${ext}`);
  const labelsPath = join(dir, `${prefix}-labels-idx1-ubyte${ext}`);
  await writeIdx(images, [n, h, w], pixels);
  await writeIdx(labelsPath, [labelsN], labels);
  return { images, labels: labelsPath, pixels };
}

function checkCommon(ds: ImageDataset, n: number, perClass: number) {
  assert.equal(ds.n, n);
  assert.equal(ds.channels, 1);
  assert.equal(ds.height, 28);
  assert.equal(ds.width, 28);
  assert.equal(ds.numClasses, 10);
  assert.deepEqual(ds.classNames, [...FASHION_MNIST_CLASSES]);
  assert.equal(ds.images.length, n * 28 * 28);
  assert.equal(ds.labels.length, n);
  assert.deepEqual(classCounts(ds), new Array(10).fill(perClass));
  let min = Infinity, max = -Infinity, sum = 0;
  for (const v of ds.images) {
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  assert.equal(min, 0);
  assert.equal(max, 1);
  const mean = sum / ds.images.length;
  assert.ok(mean > 0.2 && mean < 0.4, `Fashion-MNIST mean pixel ${mean} (expected ~0.29)`);
  validateDataset(ds);
}

// ---------------------------------------------------------------------------------------------
// Embedded sample

Deno.test("sample: train split has 4000 images, 400 per class, pixels in [0,1]", async () => {
  const ds = await loadSample("train");
  assert.equal(ds.name, "fashion-mnist-sample/train");
  checkCommon(ds, 4000, 400);
  // Classes are interleaved, not sorted: the first 50 labels cover several classes.
  assert.ok(new Set(ds.labels.subarray(0, 50)).size >= 5);
});

Deno.test("sample: test split has 1000 images, 100 per class", async () => {
  const ds = await loadSample("test");
  assert.equal(ds.name, "fashion-mnist-sample/test");
  checkCommon(ds, 1000, 100);
});

Deno.test("sample: limit option keeps the first images", async () => {
  const all = await loadSample("test");
  const ds = await loadSample("test", { limit: 10 });
  assert.equal(ds.n, 10);
  assert.deepEqual(ds.labels, all.labels.slice(0, 10));
  assert.deepEqual(ds.images, all.images.slice(0, 10 * 784));
});

Deno.test("sample: loads from an unrelated working directory", async () => {
  const mod = new URL("../src/data/idx.ts", import.meta.url).href;
  await withTempDir(async (cwd) => {
    const code = `import { loadSample } from ${JSON.stringify(mod)};
      const d = await loadSample("test"); console.log(d.n, d.labels.length);`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", code],
      cwd,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, text);
    assert.equal(text.trim(), "1000 1000");
  });
});

// ---------------------------------------------------------------------------------------------
// Full Fashion-MNIST (installed by `apt-get install dataset-fashion-mnist`)

const fullExists = (() => {
  try {
    return Deno.statSync(join(FASHION_MNIST_DIR, "train-images-idx3-ubyte.gz")).isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name: `full Fashion-MNIST at ${FASHION_MNIST_DIR} (skipped if not installed)`,
  ignore: !fullExists,
  async fn() {
    const [train, test] = await Promise.all([
      loadFashionMnist("train"),
      loadFashionMnist("test"),
    ]);
    assert.equal(train.name, "fashion-mnist/train");
    checkCommon(train, 60000, 6000);
    checkCommon(test, 10000, 1000);
    // The embedded sample's images are verbatim copies of full-set images with the same label.
    const sample = await loadSample("test", { limit: 20 });
    const px = 784;
    for (let j = 0; j < sample.n; j++) {
      const s = sample.images.subarray(j * px, (j + 1) * px);
      let found = -1;
      for (let i = 0; i < test.n && found < 0; i++) {
        if (test.labels[i] !== sample.labels[j]) continue;
        const t = test.images.subarray(i * px, (i + 1) * px);
        let k = 0;
        while (k < px && t[k] === s[k]) k++;
        if (k === px) found = i;
      }
      assert.ok(found >= 0, `sample test image ${j} not found in the full test set`);
    }
  },
});

// ---------------------------------------------------------------------------------------------
// IDX: valid and corrupted files

Deno.test("idx: encode/decode round trip, raw and gzip", async () => {
  const data = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i);
  const bytes = encodeIdx([2, 3, 4], data);
  assert.equal(new DataView(bytes.buffer).getUint32(0), IDX_IMAGES_MAGIC);
  assert.deepEqual(decodeIdx(bytes), { dims: [2, 3, 4], data });
  await withTempDir(async (dir) => {
    for (const name of ["a-idx3-ubyte", "a-idx3-ubyte.gz"]) {
      await writeIdx(join(dir, name), [2, 3, 4], data);
      const r = await readIdx(join(dir, name));
      assert.deepEqual(r.dims, [2, 3, 4]);
      assert.deepEqual(r.data, data);
    }
    // gzip is detected by content, not name
    const f = join(dir, "plain-name");
    await Deno.writeFile(f, await gzip(bytes));
    assert.deepEqual((await readIdx(f)).data, data);
  });
});

Deno.test("idx: loadIdxDataset reads raw (uncompressed) files too", async () => {
  await withTempDir(async (dir) => {
    const { pixels } = await writeTinyIdx(dir, 5, { prefix: "t10k", gz: false });
    const ds = await loadIdxDataset(dir, "test", { name: "tiny" });
    assert.equal(ds.name, "tiny/test");
    assert.equal(ds.n, 5);
    assert.equal(ds.height, 4);
    assert.equal(ds.width, 3);
    assert.deepEqual(Array.from(ds.labels), [0, 1, 2, 3, 4]);
    assert.equal(ds.images[7], Math.fround(pixels[7] / 255));
  });
});

Deno.test("idx: wrong magic number names the file and the expected magic", async () => {
  await withTempDir(async (dir) => {
    const { images, labels } = await writeTinyIdx(dir, 3);
    // Swap: put a labels file where the images file should be.
    await Deno.copyFile(labels, images);
    await expectDataError(
      loadIdxDataset(dir, "train"),
      images,
      "bad magic number 0x00000801, expected 0x00000803 (images)",
    );
    const junk = join(dir, "junk");
    await Deno.writeFile(junk, new Uint8Array([0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0]));
    await expectDataError(readIdx(junk), junk, "bad magic number 0x12345678: not an IDX file");
    const f32 = join(dir, "float");
    await Deno.writeFile(f32, new Uint8Array([0, 0, 0x0d, 1, 0, 0, 0, 0]));
    await expectDataError(readIdx(f32), f32, "unsupported IDX data type 0x0d");
  });
});

Deno.test("idx: truncated file (raw and gzip) names the file and sizes", async () => {
  await withTempDir(async (dir) => {
    const full = encodeIdx([10, 28, 28], new Uint8Array(10 * 28 * 28));
    const raw = join(dir, "trunc-raw");
    await Deno.writeFile(raw, full.subarray(0, 1000));
    await expectDataError(
      readIdx(raw),
      raw,
      "truncated: header dims [10, 28, 28] imply 7856 bytes, file has only 1000",
    );
    const gz = join(dir, "trunc.gz");
    await Deno.writeFile(gz, await gzip(full.subarray(0, 5000)));
    await expectDataError(readIdx(gz), gz, "truncated", "file has only 5000");
    const hdr = join(dir, "trunc-header");
    await Deno.writeFile(hdr, full.subarray(0, 9));
    await expectDataError(readIdx(hdr), hdr, "truncated header");
    const tiny = join(dir, "tiny");
    await Deno.writeFile(tiny, new Uint8Array([0, 0]));
    await expectDataError(readIdx(tiny), tiny, "truncated");
    const extra = join(dir, "extra");
    await Deno.writeFile(extra, new Uint8Array([...full, 1, 2, 3]));
    await expectDataError(readIdx(extra), extra, "3 unexpected trailing bytes");
  });
});

Deno.test("idx: label count mismatch names the label file and both counts", async () => {
  await withTempDir(async (dir) => {
    const { images, labels } = await writeTinyIdx(dir, 6, { labelsN: 5 });
    await expectDataError(
      loadIdxDataset(dir, "train"),
      `fashion-mnist: ${labels}`,
      "label count mismatch: 5 labels",
      `${images} has 6 images`,
    );
  });
});

Deno.test("idx: label out of range names the label file", async () => {
  await withTempDir(async (dir) => {
    const { labels } = await writeTinyIdx(dir, 3);
    await writeIdx(labels, [3], new Uint8Array([1, 12, 3]));
    await expectDataError(
      loadIdxDataset(dir, "train"),
      labels,
      "label 12 at index 1 out of range [0, 10)",
    );
  });
});

Deno.test("idx: bad gzip names the file", async () => {
  await withTempDir(async (dir) => {
    const bad = join(dir, "bad.gz");
    await Deno.writeFile(bad, new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9]));
    await expectDataError(readIdx(bad), bad, "corrupt gzip data");
    // a valid gzip stream cut in half
    const half = join(dir, "half.gz");
    const z = await gzip(encodeIdx([100, 10], Uint8Array.from({ length: 1000 }, (_, i) => i)));
    await Deno.writeFile(half, z.subarray(0, z.length >> 1));
    await expectDataError(readIdx(half), half, "corrupt gzip data");
    // a .gz name whose content is not gzip at all
    const notgz = join(dir, "plain.gz");
    await Deno.writeFile(notgz, encodeIdx([2], new Uint8Array(2)));
    await expectDataError(readIdx(notgz), notgz, "not gzip data");
    // corrupt gzip in a data set directory: the error carries the data set name
    const { images } = await writeTinyIdx(dir, 2);
    await Deno.writeFile(images, new Uint8Array([0x1f, 0x8b, 0xff, 0xff]));
    await expectDataError(
      loadIdxDataset(dir, "train"),
      `fashion-mnist: ${images}`,
      "corrupt gzip",
    );
  });
});

Deno.test("idx: missing file and missing directory give the install hint", async () => {
  await withTempDir(async (dir) => {
    const err = await expectDataError(
      loadIdxDataset(dir, "train"),
      `fashion-mnist: ${join(dir, "train-images-idx3-ubyte.gz")}: not found`,
      "install with `apt-get install dataset-fashion-mnist` or pass --data-dir",
    );
    assert.equal(err.file, join(dir, "train-images-idx3-ubyte.gz"));
    // images present, labels missing
    await writeIdx(join(dir, "t10k-images-idx3-ubyte.gz"), [1, 2, 2], new Uint8Array(4));
    await expectDataError(
      loadIdxDataset(dir, "test"),
      join(dir, "t10k-labels-idx1-ubyte.gz"),
      "not found",
    );
    const nodir = join(dir, "nope");
    await expectDataError(
      loadFashionMnist("train", nodir),
      `fashion-mnist: ${nodir}: directory not found; install with`,
    );
    await expectDataError(readIdx(join(dir, "absent")), join(dir, "absent"), "not found");
  });
});

// ---------------------------------------------------------------------------------------------
// CIFAR

/** CIFAR-10 records: label then 3072 pixel bytes (pixel k of record r = (r*7 + k) % 256). */
function cifar10Bytes(labels: number[]): Uint8Array {
  const out = new Uint8Array(labels.length * CIFAR10_RECORD);
  labels.forEach((l, r) => {
    out[r * CIFAR10_RECORD] = l;
    for (let k = 0; k < 3072; k++) out[r * CIFAR10_RECORD + 1 + k] = (r * 7 + k) % 256;
  });
  return out;
}

function cifar100Bytes(pairs: [number, number][]): Uint8Array {
  const out = new Uint8Array(pairs.length * CIFAR100_RECORD);
  pairs.forEach(([coarse, fine], r) => {
    out[r * CIFAR100_RECORD] = coarse;
    out[r * CIFAR100_RECORD + 1] = fine;
    out.fill(r + 1, r * CIFAR100_RECORD + 2, (r + 1) * CIFAR100_RECORD);
  });
  return out;
}

Deno.test("cifar-10: reads the five train batches in order and the test batch", async () => {
  await withTempDir(async (root) => {
    // Use the archive's layout: <root>/cifar-10-batches-bin/*.bin
    const dir = join(root, "cifar-10-batches-bin");
    await Deno.mkdir(dir);
    for (let b = 1; b <= 5; b++) {
      await Deno.writeFile(join(dir, `data_batch_${b}.bin`), cifar10Bytes([b, b + 1]));
    }
    await Deno.writeFile(join(dir, "test_batch.bin"), cifar10Bytes([9, 0, 3]));
    const train = await loadCifar10(root, "train");
    assert.equal(train.name, "cifar-10/train");
    assert.equal(train.n, 10);
    assert.deepEqual(Array.from(train.labels), [1, 2, 2, 3, 3, 4, 4, 5, 5, 6]);
    assert.equal(train.channels, 3);
    assert.equal(train.height, 32);
    assert.equal(train.width, 32);
    assert.deepEqual(train.classNames, [...CIFAR10_CLASSES]);
    // record 1 of batch 1: pixel (c=1 green, y=2, x=5) = byte 1024 + 2*32 + 5
    const k = 1024 + 2 * 32 + 5;
    assert.equal(train.images[3072 + k], Math.fround(((7 + k) % 256) / 255));
    validateDataset(train);
    const test = await loadCifar10(dir, "test", { limit: 2 });
    assert.deepEqual(Array.from(test.labels), [9, 0]);
    assert.equal(test.images.length, 2 * 3072);
  });
});

Deno.test("cifar-100: fine and coarse labels", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(join(dir, "train.bin"), cifar100Bytes([[4, 30], [19, 99], [0, 0]]));
    const fine = await loadCifar100(dir, "train");
    assert.equal(fine.name, "cifar-100/train");
    assert.equal(fine.numClasses, 100);
    assert.deepEqual(Array.from(fine.labels), [30, 99, 0]);
    assert.equal(fine.classNames?.[30], "dolphin");
    assert.equal(fine.images[3072 + 100], Math.fround(2 / 255));
    const coarse = await loadCifar100(dir, "train", { label: "coarse" });
    assert.equal(coarse.numClasses, 20);
    assert.deepEqual(Array.from(coarse.labels), [4, 19, 0]);
    assert.equal(coarse.classNames?.[4], "fruit_and_vegetables");
    validateDataset(fine);
    validateDataset(coarse);
  });
});

Deno.test("cifar: wrong size, bad labels and missing files name the file", async () => {
  await withTempDir(async (dir) => {
    const bad = join(dir, "test_batch.bin");
    await Deno.writeFile(bad, new Uint8Array(CIFAR10_RECORD + 2));
    await expectDataError(
      loadCifar10(dir, "test"),
      `cifar-10: ${bad}`,
      "size 3075 bytes is not a multiple of the CIFAR-10 record size 3073",
    );
    // a CIFAR-100 file handed to the CIFAR-10 reader
    await Deno.writeFile(bad, cifar100Bytes([[1, 1], [2, 2], [3, 3]]));
    await expectDataError(loadCifar10(dir, "test"), bad, "is this a CIFAR-100 file?");
    await Deno.writeFile(bad, new Uint8Array(0));
    await expectDataError(loadCifar10(dir, "test"), bad, "empty file");
    await Deno.writeFile(bad, cifar10Bytes([3, 10]));
    await expectDataError(loadCifar10(dir, "test"), bad, "label 10 in record 1 out of range");
    // missing train batch
    await expectDataError(
      loadCifar10(dir, "train"),
      `cifar-10: ${join(dir, "data_batch_1.bin")}: not found`,
      "--data-dir",
    );
    const t100 = join(dir, "test.bin");
    await Deno.writeFile(t100, new Uint8Array(CIFAR100_RECORD * 2 - 1));
    await expectDataError(
      loadCifar100(dir, "test"),
      `cifar-100: ${t100}`,
      "not a multiple of the CIFAR-100 record size 3074",
    );
    await expectDataError(
      loadCifar100(join(dir, "nope"), "train"),
      join(dir, "nope"),
      "directory not found",
    );
    assert.throws(
      () => decodeCifar(new Uint8Array(7), "mem.bin", { variant: "cifar10" }),
      (e) => e instanceof DataError && e.message.startsWith("mem.bin: size 7 bytes"),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Synthetic

Deno.test("synthetic: same seed gives identical data, different seeds differ", () => {
  const opts = { n: 64, channels: 3, height: 12, width: 10, numClasses: 4 };
  const a = makeSynthetic({ ...opts, seed: 7 });
  const b = makeSynthetic({ ...opts, seed: 7 });
  const c = makeSynthetic({ ...opts, seed: 8 });
  assert.deepEqual(a.images, b.images);
  assert.deepEqual(a.labels, b.labels);
  assert.notDeepEqual(a.images, c.images);
  assert.equal(a.images.length, 64 * 3 * 12 * 10);
  assert.deepEqual(classCounts(a), [16, 16, 16, 16]);
  validateDataset(a);
  validateDataset(c);
  // external generator
  const d = makeSynthetic({ ...opts, next: mulberry32(7) });
  assert.deepEqual(d.images, a.images);
});

Deno.test("synthetic: learnable (nearest centroid generalises across seeds)", () => {
  const opts = { channels: 1, height: 16, width: 16, numClasses: 10 };
  const train = makeSynthetic({ ...opts, n: 500, seed: 1 });
  const test = makeSynthetic({ ...opts, n: 300, seed: 2 });
  const size = 16 * 16;
  const centroids = new Float64Array(10 * size);
  const counts = classCounts(train);
  for (let i = 0; i < train.n; i++) {
    const l = train.labels[i];
    for (let k = 0; k < size; k++) {
      centroids[l * size + k] += train.images[i * size + k] / counts[l];
    }
  }
  let correct = 0;
  for (let i = 0; i < test.n; i++) {
    let best = -1, bestD = Infinity;
    for (let c = 0; c < 10; c++) {
      let d = 0;
      for (let k = 0; k < size; k++) {
        const t = test.images[i * size + k] - centroids[c * size + k];
        d += t * t;
      }
      if (d < bestD) [best, bestD] = [c, d];
    }
    if (best === test.labels[i]) correct++;
  }
  const acc = correct / test.n;
  assert.ok(acc > 0.8, `nearest-centroid accuracy ${acc}`);
});

Deno.test("synthetic: rejects bad shapes", () => {
  assert.throws(() => makeSynthetic({ n: 4, numClasses: 0 }), /numClasses/);
  assert.throws(() => makeSynthetic({ n: 1.5 }), /n must be/);
});

// ---------------------------------------------------------------------------------------------
// dataset helpers

Deno.test("dataset: DataError fields, subset and validation", () => {
  const e = new DataError("/x/f.bin", "broken", "ctx");
  assert.equal(e.message, "ctx: /x/f.bin: broken");
  assert.equal(e.name, "DataError");
  assert.equal(e.file, "/x/f.bin");
  assert.equal(e.problem, "broken");
  assert.ok(e instanceof Error);

  const ds = makeSynthetic({ n: 10, height: 2, width: 2, numClasses: 2, seed: 3 });
  const sub = subsetDataset(ds, [9, 0]);
  assert.equal(sub.n, 2);
  assert.deepEqual(Array.from(sub.labels), [ds.labels[9], ds.labels[0]]);
  assert.deepEqual(sub.images.subarray(0, 4), ds.images.subarray(36, 40));
  assert.throws(() => subsetDataset(ds, [10]), DataError);
  assert.throws(
    () => validateDataset({ ...ds, labels: ds.labels.map(() => 5) }),
    /synthetic-3: label 5 at index 0 out of range/,
  );
  assert.throws(() => validateDataset({ ...ds, n: 11 }), /images has 40 values/);
});
