/**
 * Human-readable and JSON reports of a ZIG partition: model size, MACs, and every channel space
 * with its size, layers and whether (or why not) it can be pruned.
 */
import type { Partition, Zig } from "./types.ts";

/** Totals shown at the top of a report. */
export interface ReportTotals {
  /** Model name (printed in the header). */
  model?: string;
  /** Trainable parameters. */
  params: number;
  /** Multiply-accumulates per image. */
  macs: number;
  /** Arithmetic operations per image. */
  flops?: number;
}

/** Summary counts of a partition. */
export function partitionCounts(p: Partition): {
  zigs: number;
  prunableZigs: number;
  prunableGroups: number;
} {
  const pr = p.zigs.filter((z) => z.prunable);
  return {
    zigs: p.zigs.length,
    prunableZigs: pr.length,
    prunableGroups: pr.reduce((s, z) => s + z.size, 0),
  };
}

/** Group width of a ZIG: the number of scalars of one group's member slices. */
export function groupWidth(z: Zig, shapes: ReadonlyMap<string, readonly number[]>): number {
  let d = 0;
  for (const m of z.members) {
    if (!m.trainable) continue;
    const s = shapes.get(m.param);
    if (!s) continue;
    let other = 1;
    s.forEach((v, i) => (other *= i === m.axis ? 1 : v));
    d += other * m.block;
  }
  return d;
}

const fmt = (n: number) => n.toLocaleString("en-US");
const shortList = (xs: readonly string[], max = 6) =>
  xs.length <= max ? xs.join(", ") : `${xs.slice(0, max).join(", ")}, ... (+${xs.length - max})`;

/**
 * The text report: totals, then one line per ZIG (`#id size xG [prunable | NOT: reason]`)
 * followed by its layers.
 */
export function formatPartition(
  p: Partition,
  totals: ReportTotals,
  shapes?: ReadonlyMap<string, readonly number[]>,
): string {
  const c = partitionCounts(p);
  const lines: string[] = [];
  if (totals.model) lines.push(`model ${totals.model}`);
  lines.push(
    `params ${fmt(totals.params)}   MACs ${fmt(totals.macs)}` +
      (totals.flops !== undefined ? `   FLOPs ${fmt(totals.flops)}` : ""),
  );
  lines.push(
    `${c.zigs} channel spaces, ${c.prunableZigs} prunable ZIG families with ` +
      `${fmt(c.prunableGroups)} groups`,
  );
  for (const z of p.zigs) {
    const w = shapes ? ` width ${groupWidth(z, shapes)}` : "";
    const status = z.prunable ? "prunable" : `NOT prunable: ${z.reason}`;
    lines.push(`  #${z.id} size ${z.size}${w}  ${status}`);
    const layers = z.layers.length ? z.layers : [...new Set(z.members.map((m) => m.param))];
    if (layers.length) lines.push(`      layers: ${shortList(layers)}`);
  }
  return lines.join("\n");
}

/** The JSON report object (as `deno task partition --json` prints it). */
export function partitionJson(p: Partition, totals: ReportTotals): Record<string, unknown> {
  const c = partitionCounts(p);
  return {
    model: totals.model ?? "",
    params: totals.params,
    macs: totals.macs,
    zigs: p.zigs.map((z) => {
      const o: Record<string, unknown> = { id: z.id, size: z.size, prunable: z.prunable };
      if (z.reason) o.reason = z.reason;
      if (z.blockedBy) o.blockedBy = z.blockedBy;
      o.layers = z.layers;
      return o;
    }),
    prunableZigs: c.prunableZigs,
    prunableGroups: c.prunableGroups,
  };
}
