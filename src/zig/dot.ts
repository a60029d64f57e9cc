/**
 * Graphviz export of a traced graph coloured by ZIG: every op node is filled with the colour of
 * the channel space(s) of its output (striped for concatenations), unprunable spaces are grey
 * and hatched, and a legend lists each ZIG with its size and, when unprunable, the reason.
 */
import type { Graph } from "../graph/graph.ts";
import { type Analysis, analyze } from "./partition.ts";
import type { Partition } from "./types.ts";

const esc = (s: string) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
const clip = (s: string, n = 60) => (s.length > n ? `${s.slice(0, n - 3)}...` : s);

/**
 * DOT source for `graph` coloured by the ZIGs of `part` (a Partition of this graph, or the
 * {@link Analysis} that produced it).
 *
 * @example
 * ```ts
 * import { init, partition, toDot, trace, zoo } from "../../mod.ts";
 * await init();
 * const g = trace(zoo["small-cnn"].build(), [1, 1, 28, 28]);
 * const path = await Deno.makeTempFile({ suffix: ".dot" });
 * await Deno.writeTextFile(path, toDot(g, partition(g))); // render with `dot -Tsvg`
 * ```
 */
export function toDot(graph: Graph, part: Partition | Analysis): string {
  const an = "tensorZigs" in part ? part : analyze(graph);
  const p = "tensorZigs" in part ? part.partition : part;
  if (p.zigs.length !== an.partition.zigs.length) {
    throw new Error("toDot: the partition does not belong to this graph");
  }
  const zigs = p.zigs;
  const fill = (z: number) => (z < 0 || !zigs[z].prunable ? "#d9d9d9" : colour(z));
  const lines = [
    "digraph oto {",
    '  graph [rankdir=TB, fontname="Helvetica", fontsize=10];',
    '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=9];',
    '  edge [color="gray40", arrowsize=0.6];',
  ];
  const tensorNode = new Map<number, string>();
  for (const t of graph.inputs) {
    const id = `in${t}`;
    tensorNode.set(t, id);
    const z = an.tensorZigs.get(t) ?? [];
    lines.push(
      `  ${id} [shape=ellipse, label="input\\n[${graph.tensors[t].shape}]", fillcolor="${
        z.length ? fill(z[0]) : "white"
      }"];`,
    );
  }
  for (const n of graph.nodes) {
    const id = `n${n.id}`;
    for (const t of n.outputs) tensorNode.set(t, id);
    const out = n.outputs[0];
    const zs = out === undefined ? [] : an.tensorZigs.get(out) ?? [];
    const uniq = [...new Set(zs)];
    const cols = uniq.map(fill);
    const label = [
      n.op,
      n.path,
      out === undefined ? "" : `[${graph.tensors[out].shape}]`,
      uniq.length ? `ZIG ${uniq.map((z) => (z < 0 ? "-" : `#${z}`)).join("+")}` : "",
    ].filter((s) => s).join("\n");
    const blocked = uniq.some((z) => z >= 0 && !zigs[z].prunable);
    const tip = uniq
      .filter((z) => z >= 0)
      .map((z) => `#${z}: ${zigs[z].prunable ? "prunable" : zigs[z].reason}`)
      .join("; ");
    const style = cols.length > 1 ? "rounded,striped" : "rounded,filled";
    const attrs = [
      `label="${esc(label)}"`,
      `style="${style}${blocked ? ",dashed" : ""}"`,
      `fillcolor="${cols.length ? cols.join(":") : "white"}"`,
    ];
    if (tip) attrs.push(`tooltip="${esc(tip)}"`);
    if (n.params.length) {
      attrs.push(`xlabel="${esc(clip(n.params.map((q) => q.role).join(",")))}"`);
    }
    lines.push(`  ${id} [${attrs.join(", ")}];`);
  }
  for (const n of graph.nodes) {
    const seen = new Set<string>();
    for (const t of n.inputs) {
      const from = tensorNode.get(t);
      if (!from || seen.has(from)) continue;
      seen.add(from);
      lines.push(`  ${from} -> n${n.id};`);
    }
  }
  graph.outputs.forEach((t, i) => {
    lines.push(`  out${i} [shape=doublecircle, label="output", fillcolor="white"];`);
    const from = tensorNode.get(t);
    if (from) lines.push(`  ${from} -> out${i};`);
  });
  // Legend: one row per ZIG.
  const rows = zigs.map((z) =>
    `<TR><TD BGCOLOR="${z.prunable ? colour(z.id) : "#d9d9d9"}">#${z.id}</TD>` +
    `<TD ALIGN="LEFT">${z.size} ch</TD><TD ALIGN="LEFT">${
      html(z.prunable ? "prunable" : `unprunable: ${clip(z.reason ?? "", 90)}`)
    }</TD><TD ALIGN="LEFT">${html(clip(z.layers.join(", "), 50))}</TD></TR>`
  );
  lines.push(
    `  legend [shape=plaintext, style="", label=<<TABLE BORDER="0" CELLBORDER="1" ` +
      `CELLSPACING="0"><TR><TD COLSPAN="4"><B>Zero-Invariant Groups</B></TD></TR>` +
      `${rows.join("")}</TABLE>>];`,
  );
  lines.push("}");
  return lines.join("\n") + "\n";
}

const html = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** Distinct pastel colours (golden-ratio hue steps), deterministic per ZIG id. */
function colour(id: number): string {
  const h = (id * 0.618033988749895) % 1, s = 0.45, v = 0.95;
  const i = Math.floor(h * 6), f = h * 6 - i;
  const p = v * (1 - s), q = v * (1 - f * s), t = v * (1 - (1 - f) * s);
  const [r, g, b] = [[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]][i % 6];
  const hx = (x: number) => Math.round(x * 255).toString(16).padStart(2, "0");
  return `#${hx(r)}${hx(g)}${hx(b)}`;
}

/**
 * Render DOT to SVG with Graphviz `dot`; null when `dot` is not installed.
 */
export async function renderSvg(dot: string): Promise<string | null> {
  let child;
  try {
    child = new Deno.Command("dot", { args: ["-Tsvg"], stdin: "piped", stdout: "piped" }).spawn();
  } catch {
    return null;
  }
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(dot));
  await w.close();
  const out = await child.output();
  if (!out.success) throw new Error("dot failed to render the graph");
  return new TextDecoder().decode(out.stdout);
}
