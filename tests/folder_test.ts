/**
 * Image folders and CSVs of PNG and JPEG files written here with the npm encoders: layout,
 * splits, resizing, grey/16-bit/RGBA files, bad files, statistics.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadImageCsv, loadImageFolder } from "../src/data/folder.ts";
import { channelStats, DataError } from "../src/data/dataset.ts";
import { resizeCenterCrop } from "../src/data/resample.ts";
import { jpegBytes, pngBytes, rgbaOf } from "./image_files.ts";
import { assertClose } from "./helpers.ts";

const COLORS: Record<string, [number, number, number]> = {
  red: [200, 30, 40],
  green: [20, 180, 60],
  blue: [30, 40, 210],
};

/** root/<class>/ with 5 images each: PNG and JPEG, one in a subfolder, one 16-bit grey. */
async function makeFolder(root: string): Promise<void> {
  for (const [cls, [r, g, b]] of Object.entries(COLORS)) {
    const dir = join(root, cls);
    await Deno.mkdir(join(dir, "more"), { recursive: true });
    const img = (k: number) =>
      rgbaOf(20 + k, 16, (x, y) => [r + ((x * 7 + y * k) % 20), g, b - ((x + y) % 9)]);
    await Deno.writeFile(join(dir, "a.png"), pngBytes(20, 16, img(0)));
    await Deno.writeFile(join(dir, "b.jpg"), jpegBytes(21, 16, img(1)));
    await Deno.writeFile(join(dir, "c.PNG"), pngBytes(22, 16, img(2), { colorType: 6 }));
    await Deno.writeFile(join(dir, "d.jpeg"), jpegBytes(23, 16, img(3)));
    await Deno.writeFile(join(dir, "more", "e.png"), pngBytes(24, 16, img(4), { bitDepth: 16 }));
    await Deno.writeTextFile(join(dir, "notes.txt"), "not an image");
    await Deno.writeTextFile(join(dir, ".hidden.png"), "hidden files are not read");
  }
}

Deno.test("image folder: classes, fraction split, sizes and pixels", async () => {
  const root = await Deno.makeTempDir();
  try {
    await makeFolder(root);
    // A constant image: resizing keeps it constant, so its pixels are exact.
    await Deno.writeFile(
      join(root, "blue", "flat.png"),
      pngBytes(40, 30, rgbaOf(40, 30, () => [51, 102, 204])),
    );
    const d = await loadImageFolder(root, { size: [8, 10], valSplit: 0.4, seed: 3 });
    assert.deepEqual(d.classNames, ["blue", "green", "red"]);
    assert.equal(d.split, "fraction");
    assert.equal(d.train.n + d.test.n, 16);
    // 40% of 5 = 2, of 6 = 2.4 -> 2 test images per class.
    assert.equal(d.test.n, 6);
    for (let c = 0; c < 3; c++) {
      assert.equal(Array.from(d.test.labels).filter((l) => l === c).length, 2);
    }
    assert.deepEqual([d.train.channels, d.train.height, d.train.width], [3, 8, 10]);
    assert.equal(d.train.images.length, d.train.n * 3 * 8 * 10);
    assert.deepEqual(d.ignored.map((f) => f.slice(root.length + 1)).sort(), [
      "blue/notes.txt",
      "green/notes.txt",
      "red/notes.txt",
    ]);
    assert.deepEqual(d.skipped, []);
    // Colour decides the class: every image's mean red exceeds its blue for "red" only.
    for (const ds of [d.train, d.test]) {
      for (let i = 0; i < ds.n; i++) {
        const px = ds.images.subarray(i * 240, (i + 1) * 240);
        const m = [0, 1, 2].map((c) =>
          px.subarray(c * 80, (c + 1) * 80).reduce((a, v) => a + v, 0) / 80
        );
        const want = ds.labels[i] === 2 ? m[0] > m[2] : m[0] < m[2] || m[1] > m[0];
        assert.ok(want, `${ds.name}[${i}] class ${ds.labels[i]} means ${m}`);
      }
    }
    // The flat image is somewhere in the data: find a constant one with the right levels.
    const all = [d.train, d.test].flatMap((ds) =>
      Array.from({ length: ds.n }, (_, i) => ds.images.subarray(i * 240, (i + 1) * 240))
    );
    const flat = all.find((p) => Math.abs(p[0] - 0.2) < 1e-6 && Math.abs(p[80] - 0.4) < 1e-6);
    assert.ok(flat, "the constant image is loaded");
    assertClose(
      flat!,
      [...new Array(80).fill(0.2), ...new Array(80).fill(0.4), ...new Array(80).fill(0.8)],
      "flat",
      1e-6,
      0,
    );
    // The same seed gives the same split; another seed another.
    const again = await loadImageFolder(root, { size: [8, 10], valSplit: 0.4, seed: 3 });
    assert.deepEqual(again.test.images, d.test.images);
    const other = await loadImageFolder(root, { size: [8, 10], valSplit: 0.4, seed: 4 });
    assert.notDeepEqual(other.test.images, d.test.images);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("image folder: a known image is resized and centre-cropped as torchvision", async () => {
  const root = await Deno.makeTempDir();
  try {
    const rgba = rgbaOf(30, 20, (x, y) => [(x * 8) % 256, (y * 12) % 256, (x * y) % 256]);
    for (const cls of ["a", "b"]) {
      await Deno.mkdir(join(root, "train", cls), { recursive: true });
      await Deno.mkdir(join(root, "val", cls), { recursive: true });
      await Deno.writeFile(join(root, "train", cls, "x.png"), pngBytes(30, 20, rgba));
      await Deno.writeFile(
        join(root, "val", cls, "y.png"),
        pngBytes(30, 20, rgba, { colorType: 0 }),
      );
    }
    const d = await loadImageFolder(root, { size: 12 });
    assert.equal(d.split, "folders");
    assert.deepEqual([d.train.n, d.test.n], [2, 2]);
    const planes = new Float32Array(3 * 600);
    for (let p = 0; p < 600; p++) {
      for (let c = 0; c < 3; c++) planes[c * 600 + p] = rgba[p * 4 + c] / 255;
    }
    // Shorter side 20 -> 12, longer 30 -> 18, centre 12x12 (PIL-style bilinear, antialiased).
    assertClose(
      d.train.images.subarray(0, 432),
      resizeCenterCrop(planes, 3, 20, 30, 12, 12),
      "train[0]",
      1e-6,
      0,
    );
    // The grey PNG is expanded to RGB: three equal planes.
    const g = d.test.images.subarray(0, 432);
    assertClose(g.subarray(0, 144), g.subarray(144, 288), "grey -> RGB", 0, 0);
    // Grey data sets convert colour by luma.
    const grey = await loadImageFolder(root, { size: 12, channels: 1 });
    assert.equal(grey.train.channels, 1);
    const luma = new Float32Array(600).map((_, p) =>
      0.299 * planes[p] + 0.587 * planes[600 + p] + 0.114 * planes[1200 + p]
    );
    assertClose(
      grey.train.images.subarray(0, 144),
      resizeCenterCrop(luma, 1, 20, 30, 12, 12),
      "luma",
      1e-6,
      0,
    );
    await assert.rejects(
      loadImageFolder(root, { size: 12, valSplit: 0.2 }),
      /has train\/ and val\/ subfolders; a val split does not apply/,
    );
    await Deno.mkdir(join(root, "val", "zebra"));
    await assert.rejects(loadImageFolder(root, { size: 12 }), /class "zebra" has no folder in/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("image folder: a corrupt file is one line naming it; skipBadImages counts it", async () => {
  const root = await Deno.makeTempDir();
  try {
    await makeFolder(root);
    const bad = join(root, "green", "broken.jpg");
    const good = await Deno.readFile(join(root, "green", "b.jpg"));
    await Deno.writeFile(bad, good.subarray(0, good.length >> 1));
    await Deno.writeTextFile(join(root, "red", "fake.png"), "this is text");
    const err = await loadImageFolder(root, { size: 8 }).catch((e) => e);
    assert.ok(err instanceof DataError);
    assert.equal(err.file, bad);
    assert.match(err.message, new RegExp(`^${bad}: cannot decode JPEG: `));
    assert.ok(!err.message.includes("\n"), err.message);
    const d = await loadImageFolder(root, { size: 8, skipBadImages: true });
    assert.deepEqual(d.skipped.map((s) => s.file), [bad, join(root, "red", "fake.png")]);
    assert.match(d.skipped[1].problem, /not a PNG or JPEG image/);
    assert.equal(d.train.n + d.test.n, 15);
    await assert.rejects(loadImageFolder(join(root, "nope"), { size: 8 }), /not a directory/);
    await assert.rejects(
      loadImageFolder(root, { size: 8, valSplit: 1.5 }),
      /val split must be a fraction/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("image CSV: names or integer labels, split column, relative paths", async () => {
  const root = await Deno.makeTempDir();
  try {
    await makeFolder(root);
    const lines = ["path,label,split"];
    for (const cls of Object.keys(COLORS)) {
      lines.push(
        `${cls}/a.png,${cls},train`,
        `"${cls}/b.jpg",${cls},train`,
        `${cls}/d.jpeg,${cls},test`,
      );
    }
    const csv = join(root, "list.csv");
    await Deno.writeTextFile(csv, lines.join("\n") + "\n");
    const d = await loadImageCsv(csv, { size: 8 });
    assert.equal(d.split, "csv");
    assert.deepEqual(d.classNames, ["blue", "green", "red"]);
    assert.deepEqual([d.train.n, d.test.n], [6, 3]);
    assert.deepEqual(Array.from(d.test.labels), [2, 1, 0]);
    await Deno.writeTextFile(
      csv,
      "red/a.png,2\nred/b.jpg,2\ngreen/a.png,1\ngreen/b.jpg,1\nblue/a.png,0\nblue/b.jpg,0\n",
    );
    const n = await loadImageCsv(csv, { size: 8, valSplit: 0.5 });
    assert.equal(n.split, "fraction");
    assert.deepEqual(n.classNames, ["0", "1", "2"]);
    assert.deepEqual([n.train.n, n.test.n], [3, 3]);
    await Deno.writeTextFile(csv, "red/a.png,red,train\nred/b.jpg,red\n");
    await assert.rejects(loadImageCsv(csv, { size: 8 }), /1 of 2 lines give a split/);
    await Deno.writeTextFile(csv, "red/a.png\n");
    await assert.rejects(loadImageCsv(csv, { size: 8 }), /line 1: expected path,label/);
    await Deno.writeTextFile(csv, "red/missing.png,red\nred/a.png,red\n");
    await assert.rejects(
      loadImageCsv(csv, { size: 8, valSplit: 0.5 }),
      /missing\.png: cannot read: not found/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("channelStats: per-channel mean and population std", () => {
  const images = Float32Array.from([0, 1, 0.5, 0.5, 0.2, 0.2, 0.6, 0.6]); // 2 images, 2 ch, 1x2
  const s = channelStats({ images, n: 2, channels: 2, height: 1, width: 2 });
  // channel 0: 0, 1, 0.2, 0.2 -> mean 0.35, var = (0.1225 + 0.4225 + 0.0225 * 2) / 4 = 0.59 / 4
  // channel 1: 0.5, 0.5, 0.6, 0.6 -> mean 0.55, std 0.05
  assertClose(s.mean, [0.35, 0.55], "mean", 1e-7, 0);
  assertClose(s.std, [Math.sqrt(0.59 / 4), 0.05], "std", 1e-7, 0);
});
