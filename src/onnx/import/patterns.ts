/**
 * Graph rewrites before import: `Constant` nodes and deduplicated initializers become
 * initializers of their own, and the decompositions exporters write are folded back into oto's
 * ops so the partition sees one vocabulary:
 * - LayerNorm as ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div(/Mul/Add) over the last axis;
 * - oto's own channels-first LayerNorm (ReduceSum over channels ... ) as `layerNorm2d`;
 * - GELU as x·0.5·(1 + erf(x/√2)); SiLU as x·sigmoid(x); HardSwish as x·HardSigmoid(x);
 *   Mish as x·tanh(softplus(x)) (opsets before 18, as oto writes it);
 * - a fully connected layer as MatMul(x, W) + b, or MatMul(x, Transpose(W)) + b;
 * - GroupNorm as Reshape/InstanceNormalization/Reshape/Mul/Add.
 * (ShuffleNet's channel shuffle, Reshape/Transpose/Reshape, stays as it is: the partition follows
 * channels through reshapes and permutes, so the shuffled spaces are pruned exactly.)
 * Fused nodes replace the last node of their pattern (same output name); nodes nothing reads
 * any more are dropped.
 */
import type { OnnxAttribute, OnnxNode } from "../proto.ts";
import { type HostValue, hostValue } from "../values.ts";

/** The graph being rewritten. */
export interface Rewrite {
  nodes: OnnxNode[];
  initializers: Map<string, HostValue>;
  /** Graph output names (never removed). */
  outputs: ReadonlySet<string>;
}

class Index {
  readonly producer = new Map<string, OnnxNode>();
  readonly consumers = new Map<string, OnnxNode[]>();
  constructor(readonly g: Rewrite) {
    for (const n of g.nodes) {
      for (const o of n.outputs) if (o) this.producer.set(o, n);
      for (const i of n.inputs) {
        if (!i) continue;
        let l = this.consumers.get(i);
        if (!l) this.consumers.set(i, l = []);
        if (!l.includes(n)) l.push(n);
      }
    }
  }
  /** The node producing `v` if it has type `op`. */
  op(v: string | undefined, op: string): OnnxNode | undefined {
    const p = v ? this.producer.get(v) : undefined;
    return p && p.opType === op && (p.domain === "" || p.domain === "ai.onnx") ? p : undefined;
  }
  /** `v` is read by exactly one node and is no graph output. */
  single(v: string): boolean {
    return (this.consumers.get(v)?.length ?? 0) === 1 && !this.g.outputs.has(v);
  }
  /** The one consumer of `v` of type `op`. */
  next(v: string, op: string): OnnxNode | undefined {
    const c = this.consumers.get(v);
    if (!c || c.length !== 1 || this.g.outputs.has(v)) return undefined;
    return c[0].opType === op ? c[0] : undefined;
  }
  /** Scalar value of an initializer. */
  scalar(v: string | undefined): number | undefined {
    const h = v ? this.g.initializers.get(v) : undefined;
    return h && h.data.length === 1 ? h.data[0] : undefined;
  }
  /** The other input of a binary node. */
  other(n: OnnxNode, v: string): string | undefined {
    if (n.inputs.length !== 2) return undefined;
    if (n.inputs[0] === v) return n.inputs[1];
    if (n.inputs[1] === v) return n.inputs[0];
    return undefined;
  }
}

const near = (a: number | undefined, b: number, tol = 1e-4) =>
  a !== undefined && Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

function fused(
  last: OnnxNode,
  opType: string,
  inputs: string[],
  attrs: Record<string, number>,
): OnnxNode {
  const a = new Map<string, OnnxAttribute>();
  for (const [k, v] of Object.entries(attrs)) {
    a.set(k, Number.isInteger(v) ? { type: "int", value: v } : { type: "float", value: v });
  }
  return {
    name: last.name,
    opType,
    domain: "oto",
    inputs,
    outputs: [last.outputs[0]],
    attrs: a,
  };
}

/** Replace `Constant` nodes by initializers, and Identity copies of initializers by copies. */
function constants(g: Rewrite): void {
  const keep: OnnxNode[] = [];
  for (const n of g.nodes) {
    if (n.opType === "Constant" && !n.domain) {
      const a = [...n.attrs.entries()][0];
      if (!a) throw new Error(`importOnnx: Constant node ${n.name} has no value`);
      const [name, v] = a;
      let h: HostValue;
      if (v.type === "tensor") h = v.value;
      else if (v.type === "float") h = hostValue("float", [], [v.value]);
      else if (v.type === "int") h = hostValue("int", [], [v.value]);
      else if (v.type === "floats") h = hostValue("float", [v.value.length], v.value);
      else if (v.type === "ints") h = hostValue("int", [v.value.length], v.value);
      else {
        throw new Error(
          `importOnnx: Constant node ${n.name}: attribute ${name} (${v.type}) is not supported`,
        );
      }
      g.initializers.set(n.outputs[0], h);
      continue;
    }
    // PyTorch writes equal initializers once and Identity copies under the other names: each
    // name is its own tensor again (two layers never share a parameter by accident).
    if (n.opType === "Identity" && !n.domain && g.initializers.has(n.inputs[0])) {
      const src = g.initializers.get(n.inputs[0])!;
      g.initializers.set(n.outputs[0], { ...src, shape: [...src.shape], data: src.data });
      continue;
    }
    keep.push(n);
  }
  g.nodes = keep;
}

/** ReduceMean-based LayerNorm over the last axis. */
function layerNormLast(g: Rewrite, ix: Index, div: OnnxNode): OnnxNode | undefined {
  const [d, s] = div.inputs;
  const sub = ix.op(d, "Sub"), sqrt = ix.op(s, "Sqrt");
  if (!sub || !sqrt) return;
  const [x, m] = sub.inputs;
  const mean = ix.op(m, "ReduceMean");
  const add = ix.op(sqrt.inputs[0], "Add");
  if (!mean || !add || mean.inputs[0] !== x) return;
  const axes = (n: OnnxNode) => {
    const a = n.attrs.get("axes");
    if (a?.type === "ints") return a.value;
    const h = n.inputs[1] ? g.initializers.get(n.inputs[1]) : undefined;
    return h ? Array.from(h.data) : null;
  };
  const ax = axes(mean);
  if (!ax || ax.length !== 1) return;
  const varIn = add.inputs.find((v) => ix.op(v, "ReduceMean"));
  const eps = ix.scalar(add.inputs.find((v) => v !== varIn));
  const vmean = ix.op(varIn, "ReduceMean");
  if (!vmean || eps === undefined || axes(vmean)?.[0] !== ax[0]) return;
  const pow = ix.op(vmean.inputs[0], "Pow");
  const sq = ix.op(vmean.inputs[0], "Mul");
  const ok = (pow && pow.inputs[0] === d && near(ix.scalar(pow.inputs[1]), 2)) ||
    (sq && sq.inputs[0] === d && sq.inputs[1] === d);
  if (!ok) return;
  // Optional affine: Mul(·, gamma) then Add(·, beta).
  let out: OnnxNode = div, gamma = "", beta = "";
  const mul = ix.next(div.outputs[0], "Mul");
  if (mul) {
    const gm = ix.other(mul, div.outputs[0]);
    if (gm && g.initializers.has(gm)) {
      (out = mul), (gamma = gm);
      const ad = ix.next(mul.outputs[0], "Add");
      const bt = ad && ix.other(ad, mul.outputs[0]);
      if (ad && bt && g.initializers.has(bt)) (out = ad), (beta = bt);
    }
  }
  const inputs = beta ? [x, gamma, beta] : gamma ? [x, gamma] : [x];
  return fused(out, "oto.LayerNormLast", inputs, { axis: ax[0], epsilon: eps });
}

/** oto's `layerNorm2d` export: statistics over channels with a 1/normCount constant. */
function layerNorm2d(g: Rewrite, ix: Index, div: OnnxNode): OnnxNode | undefined {
  const [d, s] = div.inputs;
  const sub = ix.op(d, "Sub"), sqrt = ix.op(s, "Sqrt");
  if (!sub || !sqrt) return;
  const [x, m] = sub.inputs;
  const meanMul = ix.op(m, "Mul");
  const sum = meanMul && ix.op(meanMul.inputs[0], "ReduceSum");
  const inv = meanMul && ix.scalar(meanMul.inputs[1]);
  if (!sum || sum.inputs[0] !== x || inv === undefined) return;
  const axes = sum.inputs[1] ? g.initializers.get(sum.inputs[1]) : undefined;
  if (!axes || axes.data.length !== 1 || axes.data[0] !== 1) return;
  const add = ix.op(sqrt.inputs[0], "Add");
  const eps = add && ix.scalar(add.inputs[1]);
  const vsub = add && ix.op(add.inputs[0], "Sub");
  if (!vsub || eps === undefined) return;
  const ex2 = ix.op(vsub.inputs[0], "Mul"), m2 = ix.op(vsub.inputs[1], "Mul");
  if (!ex2 || !m2 || m2.inputs[0] !== m || m2.inputs[1] !== m) return;
  const sum2 = ix.op(ex2.inputs[0], "ReduceSum");
  const sq = sum2 && ix.op(sum2.inputs[0], "Mul");
  if (!sq || sq.inputs[0] !== x || sq.inputs[1] !== x || !near(ix.scalar(ex2.inputs[1]), inv)) {
    return;
  }
  const mul = ix.next(div.outputs[0], "Mul");
  const ad = mul && ix.next(mul.outputs[0], "Add");
  if (!mul || !ad) return;
  const gamma = initializerOf(g, ix, mul.inputs[1]), beta = initializerOf(g, ix, ad.inputs[1]);
  if (!gamma || !beta) return;
  return fused(ad, "oto.LayerNorm2d", [x, gamma, beta], {
    epsilon: eps,
    norm_count: Math.round(1 / inv),
  });
}

/** An initializer, or an initializer seen through Reshape/Unsqueeze (a per-channel [C, 1, 1]). */
function initializerOf(g: Rewrite, ix: Index, v: string | undefined): string | undefined {
  if (!v) return undefined;
  if (g.initializers.has(v)) return v;
  const p = ix.producer.get(v);
  if (
    p && (p.opType === "Reshape" || p.opType === "Unsqueeze") && g.initializers.has(p.inputs[0])
  ) {
    return p.inputs[0];
  }
  return undefined;
}

/**
 * GroupNorm as PyTorch (and oto) export it before opset 18: Reshape(x, [N, G, -1]),
 * InstanceNormalization with unit scale and zero shift, Reshape back, then Mul(gamma) and
 * Add(beta) per channel.
 */
function groupNorm(g: Rewrite, ix: Index, inorm: OnnxNode): OnnxNode | undefined {
  const r1 = ix.op(inorm.inputs[0], "Reshape");
  const target = r1 && g.initializers.get(r1.inputs[1]);
  const scale = g.initializers.get(inorm.inputs[1]);
  const shift = g.initializers.get(inorm.inputs[2]);
  if (!r1 || !target || !scale || !shift || !ix.single(r1.outputs[0])) return;
  const t = Array.from(target.data);
  if (t.length !== 3 || t[2] !== -1 || !(t[0] === 0 || t[0] === -1 || t[0] > 0)) return;
  const groups = t[1];
  if (Array.from(scale.data).some((v) => v !== 1) || Array.from(shift.data).some((v) => v !== 0)) {
    return;
  }
  const r2 = ix.next(inorm.outputs[0], "Reshape");
  if (!r2) return;
  const x = r1.inputs[0];
  const shape = ix.op(r2.inputs[1], "Shape");
  if (!(shape && shape.inputs[0] === x) && !g.initializers.has(r2.inputs[1])) return;
  const eps = inorm.attrs.get("epsilon");
  const attrs = { groups, epsilon: eps?.type === "float" ? eps.value : 1e-5 };
  const mul = ix.next(r2.outputs[0], "Mul");
  const gamma = mul && initializerOf(g, ix, ix.other(mul, r2.outputs[0]));
  const add = gamma && ix.next(mul!.outputs[0], "Add");
  const beta = add && initializerOf(g, ix, ix.other(add, mul!.outputs[0]));
  if (beta) return fused(add!, "oto.GroupNorm", [x, gamma!, beta], attrs);
  if (gamma) return fused(mul!, "oto.GroupNorm", [x, gamma], attrs);
  return fused(r2, "oto.GroupNorm", [x], attrs);
}

/** x·0.5·(1 + erf(x/√2)) in any association of the three factors. */
function gelu(ix: Index, erf: OnnxNode): OnnxNode | undefined {
  const scaled = ix.producer.get(erf.inputs[0]);
  if (!scaled) return;
  let x: string | undefined;
  if (scaled.opType === "Div" && near(ix.scalar(scaled.inputs[1]), Math.SQRT2)) {
    x = scaled.inputs[0];
  } else if (scaled.opType === "Mul") {
    const c = scaled.inputs.find((v) => near(ix.scalar(v), Math.SQRT1_2));
    x = c === undefined ? undefined : ix.other(scaled, c);
  }
  const plus = ix.next(erf.outputs[0], "Add");
  if (!x || !plus || !near(ix.scalar(ix.other(plus, erf.outputs[0])), 1)) return;
  // Walk up the product tree from the node that reads 1 + erf; the first level whose factors
  // are exactly {x, 0.5} (one of them possibly the product x·0.5) is GELU's output.
  const factors: string[] = [];
  let top = plus.outputs[0];
  for (let depth = 0; depth < 2; depth++) {
    const m = ix.next(top, "Mul");
    if (!m) return;
    for (const v of m.inputs) if (v !== top) factors.push(v);
    const flat = factors.flatMap((f) => {
      const p = ix.op(f, "Mul");
      return p && ix.single(f) && f !== x ? p.inputs : [f];
    });
    const half = flat.filter((f) => near(ix.scalar(f), 0.5)).length;
    const xs = flat.filter((f) => f === x).length;
    if (flat.length === 2 && half === 1 && xs === 1) return fused(m, "oto.Gelu", [x], {});
    top = m.outputs[0];
  }
  return undefined;
}

/** x·sigmoid(x), x·HardSigmoid(x) (alpha 1/6, beta 0.5) and x·tanh(softplus(x)). */
function gatedSelf(ix: Index, mul: OnnxNode): OnnxNode | undefined {
  for (const v of mul.inputs) {
    const s = ix.op(v, "Sigmoid");
    const x = ix.other(mul, v);
    if (s && x === s.inputs[0] && mul.inputs[0] !== mul.inputs[1]) {
      return fused(mul, "oto.Silu", [x], {});
    }
    const t = ix.op(v, "Tanh");
    const sp = t && ix.single(t.inputs[0]) ? ix.op(t.inputs[0], "Softplus") : undefined;
    if (sp && x === sp.inputs[0] && ix.single(v)) {
      return { ...fused(mul, "Mish", [x], {}), domain: "" };
    }
    const h = ix.op(v, "HardSigmoid");
    if (h && x === h.inputs[0]) {
      const a = h.attrs.get("alpha"), b = h.attrs.get("beta");
      const alpha = a?.type === "float" ? a.value : 0.2, beta = b?.type === "float" ? b.value : 0.5;
      if (near(alpha, 1 / 6) && near(beta, 0.5)) {
        return { ...fused(mul, "HardSwish", [x], {}), domain: "" };
      }
    }
  }
  return undefined;
}

/** MatMul(x, W) [+ b] and MatMul(x, Transpose(W)) [+ b] with initializer W (and b). */
function linear(g: Rewrite, ix: Index, mm: OnnxNode): OnnxNode | undefined {
  const [x, w] = mm.inputs;
  let weight = w, inOut = 1;
  const t = ix.op(w, "Transpose");
  if (t && g.initializers.has(t.inputs[0])) {
    const perm = t.attrs.get("perm");
    if (perm?.type === "ints" && perm.value.join() !== "1,0") return;
    (weight = t.inputs[0]), (inOut = 0);
  }
  const wv = g.initializers.get(weight);
  if (!wv || wv.shape.length !== 2 || wv.kind !== "float") return;
  const outF = wv.shape[inOut ? 1 : 0];
  const add = ix.next(mm.outputs[0], "Add");
  const b = add && ix.other(add, mm.outputs[0]);
  const bv = b ? g.initializers.get(b) : undefined;
  if (add && b && bv && bv.shape.length === 1 && bv.shape[0] === outF) {
    return fused(add, "oto.Linear", [x, weight, b], { weight_in_out: inOut });
  }
  if (inOut === 1) return; // a bare MatMul imports as it is
  return fused(mm, "oto.Linear", [x, weight], { weight_in_out: inOut });
}

/** Drop nodes whose outputs nothing reads. */
function deadCode(g: Rewrite): void {
  const live = new Set<string>(g.outputs);
  const keep: OnnxNode[] = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (n.outputs.some((o) => o && live.has(o))) {
      keep.push(n);
      for (const v of n.inputs) if (v) live.add(v);
    }
  }
  g.nodes = keep.reverse();
}

/** Apply every rewrite (in place) and return the graph. */
export function rewrite(g: Rewrite): Rewrite {
  constants(g);
  const passes: [string, (ix: Index, n: OnnxNode) => OnnxNode | undefined][] = [
    ["Div", (ix, n) => layerNormLast(g, ix, n) ?? layerNorm2d(g, ix, n)],
    ["Erf", (ix, n) => gelu(ix, n)],
    ["Mul", (ix, n) => gatedSelf(ix, n)],
    ["MatMul", (ix, n) => linear(g, ix, n)],
    ["InstanceNormalization", (ix, n) => groupNorm(g, ix, n)],
  ];
  for (const [op, match] of passes) {
    const ix = new Index(g);
    const replace = new Map<OnnxNode, OnnxNode>();
    for (const n of g.nodes) {
      if (n.opType !== op || (n.domain && n.domain !== "ai.onnx")) continue;
      const f = match(ix, n);
      if (!f) continue;
      // The fused node takes the place of the pattern's last node.
      const last = ix.producer.get(f.outputs[0])!;
      replace.set(last, f);
    }
    if (replace.size) g.nodes = g.nodes.map((n) => replace.get(n) ?? n);
    deadCode(g);
  }
  deadCode(g);
  return g;
}
