/** The op chain of tests/meta_test.ts, shared with bench/meta.bench.ts. */
import * as o from "../mod.ts";

/** A 50-op chain through every op family on huge shapes. */
export function chain(x: o.Tensor, w: o.Tensor, labels: o.Tensor): o.Tensor[] {
  const shapes: o.Tensor[] = [];
  const r = (t: o.Tensor) => (shapes.push(t), t);
  let h = r(o.matmul(x, w)); // [B, 4096]
  for (let i = 0; i < 8; i++) {
    h = r(o.relu(r(o.add(r(o.scale(h, 0.5)), r(o.mul(h, h)))))); // 4 ops each
  }
  const parts = o.split(h, [1024, 3072], 1).map(r);
  const c = r(o.concat([parts[1], parts[0], parts[0]], 1)); // [B, 5120]
  const p = r(o.pad(c, [[0, 0], [2, 2]])); // [B, 5124]
  const s = r(o.slice(p, [0, -1], [Infinity, -Infinity], [2, -2])); // [B/2, 2562]
  const t = r(o.transpose(r(o.reshape(s, [-1, 2562, 1])), 1, 2)); // [B/2, 1, 2562]
  const m = r(o.mean(t, 1)); // [B/2, 2562]
  const e = r(o.expand(r(o.reshape(r(o.sum(m, 1, true)), [-1, 1])), [m.shape[0], 10]));
  const sm = r(o.logSoftmax(r(o.softmax(e))));
  const g = r(o.gather(sm, 0, r(o.cast(r(o.argmax(sm, 1)), "i32"))));
  r(o.oneHot(labels, 10));
  r(o.max(g));
  r(o.crossEntropy(sm, o.slice(labels, [0], [sm.shape[0]])));
  return shapes;
}
