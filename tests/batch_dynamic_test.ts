/**
 * Graphs traced at batch 1 run at other batch sizes when the model computes shape attributes
 * from its input in ways the traced numbers do not show: Swin's window partition (the batch
 * folded into the window axis and unfolded again), a token Linear over `reshape(x, [-1, c])`,
 * ViT's class token `expand(cls, [n, 1, c])` (a no-op copy at n = 1) with a positional
 * embedding, and a Siamese network
 * that runs both inputs as one batch and slices it at row n. The reference is the model itself
 * at that batch size; the compact model (half of every prunable group zeroed) must agree too.
 */
import assert from "node:assert/strict";
import * as o from "../mod.ts";
import { executeGraphAll, init, trace } from "../mod.ts";
import { flattenOutput } from "../src/graph/graph.ts";
import { roundTrip } from "./zig_helpers.ts";

await init({ quiet: true, backend: "cpu" });
type T = o.Tensor;

/** Swin: NHWC windows of 2x2 as [N * windows, 4, C], LayerNorm + MLP, windows back. */
class Windows extends o.Module {
  stem = this.module("stem", new o.Conv2d(3, 4, 1));
  ln = this.module("ln", new o.LayerNorm(4));
  f1 = this.module("f1", new o.Linear(4, 8));
  f2 = this.module("f2", new o.Linear(8, 4));
  head = this.module("head", new o.Linear(4, 5));
  forward(x: T) {
    const h = o.permute(this.stem.call(x), [0, 2, 3, 1]);
    const [n, hh, ww, c] = h.shape;
    let w = o.reshape(h, [n, hh / 2, 2, ww / 2, 2, c]);
    w = o.reshape(o.permute(w, [0, 1, 3, 2, 4, 5]), [-1, 4, c]);
    w = o.add(w, this.f2.call(o.gelu(this.f1.call(this.ln.call(w)))));
    let y = o.reshape(w, [n, hh / 2, ww / 2, 2, 2, c]);
    y = o.reshape(o.permute(y, [0, 1, 3, 2, 4, 5]), [n, hh, ww, c]);
    return this.head.call(o.mean(y, [1, 2]));
  }
}

/** Pixels as tokens: `reshape(x, [-1, c])`, a Linear, back to [N, HW, C']. */
class TokenLinear extends o.Module {
  a = this.module("a", new o.Conv2d(3, 6, 3, { padding: 1 }));
  l = this.module("l", new o.Linear(6, 4));
  fc = this.module("fc", new o.Linear(4, 5));
  forward(x: T) {
    const y = o.relu(this.a.call(x));
    const [n, c, hh, ww] = y.shape;
    const t = o.reshape(o.permute(y, [0, 2, 3, 1]), [-1, c]);
    return this.fc.call(o.mean(o.reshape(o.relu(this.l.call(t)), [n, hh * ww, 4]), [1]));
  }
}

/** ViT's class token, expanded over the batch and put before the patch tokens. */
class ClassToken extends o.Module {
  patch = this.module("patch", new o.Conv2d(3, 6, 2, { stride: 2 }));
  cls = this.param("cls", o.randn([1, 1, 6], { seed: 1 }));
  pos = this.param("pos", o.randn([1, 17, 6], { seed: 2 }));
  f1 = this.module("f1", new o.Linear(6, 8));
  f2 = this.module("f2", new o.Linear(8, 6));
  head = this.module("head", new o.Linear(6, 5));
  forward(x: T) {
    const p = this.patch.call(x);
    const [n, c] = p.shape;
    let t = o.transpose(o.reshape(p, [n, c, -1]), 1, 2);
    t = o.add(o.concat([o.expand(this.cls, [n, 1, c]), t], 1), this.pos);
    t = o.add(t, this.f2.call(o.gelu(this.f1.call(t))));
    return this.head.call(o.reshape(o.slice(t, [0, 0], [Infinity, 1]), [n, c]));
  }
}

/** Both inputs through one backbone as one batch; the features are split at row n. */
class Siamese extends o.Module {
  a = this.module("a", new o.Conv2d(3, 6, 3, { padding: 1 }));
  b = this.module("b", new o.Conv2d(6, 4, 3, { padding: 1 }));
  fc = this.module("fc", new o.Linear(4, 2));
  forward(x1: T, x2: T) {
    const n = x1.shape[0];
    const f = o.mean(this.b.call(o.relu(this.a.call(o.concat([x1, x2], 0)))), [2, 3]);
    return this.fc.call(o.abs(o.sub(o.slice(f, [0], [n]), o.slice(f, [n], [Infinity]))));
  }
}

const CASES: [string, () => o.Module, number[][], number][] = [
  // stem's 4 (with the LayerNorm and f2's rows), f1's 8.
  ["swin windows", () => new Windows(), [[1, 3, 8, 8]], 12],
  // a 6, l 4.
  ["token linear over reshape(-1, c)", () => new TokenLinear(), [[1, 3, 6, 6]], 10],
  // the stream 6 (patch, the class token's and the positional embedding's slices along C,
  // f2), f1's hidden 8.
  ["class token", () => new ClassToken(), [[1, 3, 8, 8]], 14],
  // a 6, b 4.
  ["siamese batch concat", () => new Siamese(), [[1, 3, 6, 6], [1, 3, 6, 6]], 10],
];

for (const [name, build, shapes, groups] of CASES) {
  Deno.test(`batch-dependent shapes: ${name}: the graph traced at batch 1 runs at batch 3`, async () => {
    const m = build().eval();
    const g = trace(m, shapes);
    const xs = shapes.map((s, i) => o.randn([3, ...s.slice(1)], { seed: 7 + i }));
    const want = flattenOutput(m.call(...xs)).tensors;
    const got = executeGraphAll(g, m.stateDict(), xs);
    assert.equal(got.length, want.length);
    for (let k = 0; k < want.length; k++) {
      assert.deepEqual(got[k].shape, want[k].shape, `output ${k} shape`);
      const a = await want[k].data(), b = await got[k].data();
      a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) <= 1e-5 * (1 + Math.abs(v)), `${i}`));
    }
  });
  Deno.test(`batch-dependent shapes: ${name}: ${groups} prunable groups, compact outputs equal at batch 1, 3 and in train mode`, async () => {
    const r = await roundTrip(build(), shapes, { seed: 3 });
    assert.equal(r.counts.prunableGroups, groups);
  });
}
