/**
 * Reverse-mode autograd. Every op output that depends on a tensor requiring grad carries a
 * {@link GradNode}; `backward` walks them in reverse topological order and calls each op's own
 * gradient rule (defined beside its forward in `src/ops/`).
 */
import { type GradNode, noGrad } from "./ops/registry.ts";
import type { Tensor } from "./tensor.ts";
import { add } from "./ops/elementwise.ts";
import { copy } from "./ops/cast.ts";
import { fill } from "./ops/fill.ts";
import { sumTo } from "./ops/reduce.ts";
import { checkInterrupt } from "./interrupt.ts";

/**
 * Accumulate d(root)/d(leaf) into `leaf.grad` for every leaf that requires grad.
 * `root` must be a scalar unless `seed` (its gradient) is given. Leaf gradients are kept past
 * tidy scopes; every intermediate gradient is freed as soon as it has been propagated.
 *
 * @example
 * ```ts
 * import { backward, init, mul, randn, sum } from "../mod.ts";
 * await init();
 * const w = randn([3], { seed: 1 }).keep();
 * w.requiresGrad = true;
 * backward(sum(mul(w, w))); // w.grad = 2w
 * console.log(await w.grad!.data()); // twice await w.data()
 * ```
 */
export function backward(root: Tensor, seed?: Tensor): void {
  if (!root.requiresGrad) {
    throw new Error("backward: the tensor does not depend on any tensor that requires grad");
  }
  if (!seed && root.size !== 1) {
    throw new Error(`backward: root has shape [${root.shape}]; pass a seed gradient or reduce`);
  }
  noGrad(() => {
    const order = topoOrder(root);
    const grads = new Map<Tensor, Tensor>();
    grads.set(root, seed ?? fill(root.shape, 1, root.backend));
    for (let i = order.length - 1; i >= 0; i--) {
      const node = order[i];
      checkInterrupt("backward");
      const gouts = node.outs.map((o) => grads.get(o) ?? fill(o.shape, 0, o.backend));
      for (const o of node.outs) grads.delete(o);
      const gins = (node.op.grad as (c: unknown, g: readonly Tensor[]) => (Tensor | null)[])(
        { ins: node.ins, outs: node.outs, attrs: node.attrs },
        gouts,
      );
      // A grad rule may return its incoming gradient or one tensor for several inputs; each
      // stored gradient must be owned once, so repeats are copied, then temporaries freed.
      const temps = new Set<Tensor>(gouts);
      const stored = new Set<Tensor>();
      node.ins.forEach((x, k) => {
        let g = gins[k];
        if (!g || !x.requiresGrad) return;
        temps.add(g);
        if (g.shape.length !== x.shape.length || g.shape.some((d, j) => d !== x.shape[j])) {
          g = sumTo(g, x.shape);
          temps.add(g);
        }
        if (stored.has(g) || g === seed) g = copy(g);
        const prev = x.node ? grads.get(x) : x.grad;
        const v = prev ? add(prev, g) : g;
        prev?.dispose();
        stored.add(v);
        if (x.node) grads.set(x, v);
        else x.grad = v.keep();
      });
      for (const t of temps) if (!stored.has(t) && t !== seed) t.dispose();
    }
    for (const g of grads.values()) g.dispose();
  });
}

function topoOrder(root: Tensor): GradNode[] {
  const order: GradNode[] = [];
  const seen = new Set<GradNode>();
  // Iterative DFS: deep networks would overflow the JS stack with recursion.
  const stack: [GradNode, number][] = root.node ? [[root.node, 0]] : [];
  if (root.node) seen.add(root.node);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [node, k] = top;
    if (k < node.ins.length) {
      top[1]++;
      const child = node.ins[k].node;
      if (child && !seen.has(child)) {
        seen.add(child);
        stack.push([child, 0]);
      }
    } else {
      stack.pop();
      order.push(node);
    }
  }
  return order;
}

/** Clear `.grad` of the given tensors, freeing their storage. */
export function zeroGrad(params: Iterable<Tensor>): void {
  for (const p of params) {
    p.grad?.dispose();
    p.grad = null;
  }
}
