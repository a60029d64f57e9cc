import assert from "node:assert/strict";
import { curvesSvg } from "../src/cli/plot.ts";
import { Progress, table } from "../src/cli/progress.ts";

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
  const p = new Progress("train", 100, "img", {
    writeSync: (b) => (lines.push(new TextDecoder().decode(b)), b.length),
  });
  p.tick(10);
  assert.equal(lines.length, 0, "no line right after the start (a one-batch rate)");
  p.tick(90, "loss 0.1");
  assert.equal(lines.length, 1, "the last tick always draws");
  assert.match(lines[0], /train .* 100% 100\/100 [\d.]+ img\/s elapsed 0:00 eta 0:00 loss 0.1\n/);
});
