import assert from "node:assert/strict";
import { curvesSvg } from "../src/cli/plot.ts";
import { Progress, table } from "../src/cli/progress.ts";
import { epochTable } from "../src/cli/report.ts";
import { metricField, type MetricSpec } from "../src/cli/task.ts";

Deno.test("curvesSvg: one panel per series group, a polyline per series, points at data", () => {
  const svg = curvesSvg([1, 2, 3], [
    {
      title: "loss",
      series: [{ name: "train", values: [2, 1, 0.5] }, { name: "test", values: [2.2, 1.4, 0.9] }],
    },
    { title: "accuracy", series: [{ name: "test", values: [0.5, 0.7, 0.8] }], yRange: [0, 1] },
  ]);
  assert.match(svg, /^<svg[^>]*width="640"/);
  assert.equal(svg.match(/<polyline/g)?.length, 3);
  assert.equal(svg.match(/<circle/g)?.length, 9);
  assert.ok(svg.trim().endsWith("</svg>"));
  // accuracy 0.5 on a [0,1] axis sits exactly half-way down the plot area (t=48, h=156).
  assert.ok(svg.includes(`cy="${20 + 28 + 156 - 0.5 * 156}"`));
});

Deno.test("table aligns columns and progress reports rate and eta", () => {
  const t = table([["epoch", "loss"], [1, "0.5"], [10, "0.25"]]).split("\n");
  assert.deepEqual(t, ["epoch  loss", "-----  ----", "    1   0.5", "   10  0.25"]);
  const lines: string[] = [];
  let ms = 5000; // a fake clock: the test never depends on the wall clock
  const p = new Progress("train", 100, "img", {
    writeSync: (b) => (lines.push(new TextDecoder().decode(b)), b.length),
  }, () => ms);
  ms += 500;
  p.tick(10);
  assert.equal(lines.length, 0, "no line right after the start (a one-batch rate)");
  ms += 1500;
  p.tick(90, "loss 0.1");
  assert.equal(lines.length, 1, "the last tick always draws");
  // 100 images in 2 s.
  assert.match(lines[0], /train .* 100% 100\/100 50\.0 img\/s elapsed 0:02 eta 0:00 loss 0.1\n/);
});

Deno.test("reports follow the task's metrics: a test-only PSNR metric gets its own column", () => {
  const psnr: MetricSpec = {
    key: "psnr",
    short: "PSNR",
    name: "PSNR (dB)",
    format: (v, d) => `${v.toFixed(d)} dB`,
    higherIsBetter: true,
    onTrain: false,
  };
  const rec = {
    epoch: 1,
    step: 10,
    trainLoss: 0.5,
    testLoss: 0.25,
    testPsnr: 31.234,
    groupSparsity: 0.5,
    lr: 0.01,
    seconds: 2,
    throughput: 100,
  };
  const t = epochTable([rec], true, [psnr]).split("\n");
  assert.deepEqual(t[0].split(/\s{2,}/), [
    "epoch",
    "train loss",
    "test loss",
    "test PSNR",
    "group sparsity",
    "lr",
    "img/s",
    "time",
  ]);
  assert.match(t[2], /0\.5000\s+0\.2500\s+31\.23 dB\s+0\.500/);
  // Classification by default: accuracy on training and test batches, as percentages.
  const acc = epochTable([{ ...rec, trainAccuracy: 0.5, testAccuracy: 0.875 }]).split("\n");
  assert.match(acc[0], /train loss\s+train acc\s+test loss\s+test acc/);
  assert.match(acc[2], /0\.5000\s+50\.00%\s+0\.2500\s+87\.50%/);
  assert.equal(metricField("test", "psnr"), "testPsnr");
});
