/**
 * Training curves as a self-contained SVG: one panel per series (loss, accuracy, sparsity)
 * over epochs, with axes and tick labels. No dependencies.
 */

/** One panel: a title and one or more named series over the same x values. */
export interface Panel {
  title: string;
  /** Each series' values at the shared x values, or at its own `x` (points within epochs). */
  series: { name: string; values: number[]; x?: number[]; color?: string }[];
  /** Fixed y range (e.g. [0, 1] for accuracy); default: data range. */
  yRange?: [number, number];
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"];

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push(+v.toPrecision(6));
  }
  return out;
}

/** Render panels side by side; `x` are the epoch numbers. */
export function curvesSvg(x: number[], panels: Panel[], title = "oto training"): string {
  const pw = 320, ph = 220, m = { l: 50, r: 12, t: 28, b: 36 };
  const W = panels.length * pw, H = ph + 30;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="16" text-anchor="middle" font-size="13">${esc(title)}</text>`,
  ];
  panels.forEach((p, k) => {
    const ox = k * pw, oy = 20;
    const iw = pw - m.l - m.r, ih = ph - m.t - m.b;
    const all = p.series.flatMap((s) => s.values).filter(Number.isFinite);
    let [lo, hi] = p.yRange ?? [Math.min(...all), Math.max(...all)];
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [0, 1];
    if (hi - lo < 1e-12) [lo, hi] = [lo - 0.5, hi + 0.5];
    const xs = [...x, ...p.series.flatMap((s) => s.x ?? [])];
    let x0 = Math.min(...xs), x1 = Math.max(...xs);
    // One point alone sits in the middle, not against the left edge.
    if (!(x1 > x0)) [x0, x1] = [x0 - 0.5, x0 + 0.5];
    const sx = (v: number) => ox + m.l + ((v - x0) / (x1 - x0)) * iw;
    const sy = (v: number) => oy + m.t + ih - ((v - lo) / (hi - lo)) * ih;
    parts.push(
      `<text x="${ox + m.l + iw / 2}" y="${oy + 16}" text-anchor="middle">${esc(p.title)}</text>`,
    );
    parts.push(
      `<rect x="${ox + m.l}" y="${
        oy + m.t
      }" width="${iw}" height="${ih}" fill="none" stroke="#999"/>`,
    );
    for (const t of niceTicks(lo, hi)) {
      parts.push(
        `<line x1="${ox + m.l - 4}" x2="${ox + m.l}" y1="${sy(t)}" y2="${sy(t)}" stroke="#999"/>`,
      );
      parts.push(`<text x="${ox + m.l - 6}" y="${sy(t) + 4}" text-anchor="end">${t}</text>`);
    }
    for (const t of niceTicks(x0, x1, Math.max(2, Math.min(6, x.length)))) {
      parts.push(`<text x="${sx(t)}" y="${oy + m.t + ih + 14}" text-anchor="middle">${t}</text>`);
    }
    parts.push(
      `<text x="${ox + m.l + iw / 2}" y="${oy + m.t + ih + 28}" text-anchor="middle">epoch</text>`,
    );
    p.series.forEach((s, i) => {
      const color = s.color ?? COLORS[i % COLORS.length];
      const sxs = s.x ?? x;
      const pts = s.values.map((v, j) => (Number.isFinite(v) ? `${sx(sxs[j])},${sy(v)}` : null))
        .filter((v) => v);
      if (pts.length > 1) {
        parts.push(
          `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(" ")}"/>`,
        );
      }
      for (const pt of pts) {
        const [cx, cy] = pt!.split(",");
        parts.push(`<circle cx="${cx}" cy="${cy}" r="2.5" fill="${color}"/>`);
      }
      parts.push(
        `<text x="${ox + m.l + 6}" y="${oy + m.t + 14 + i * 13}" fill="${color}">${
          esc(s.name)
        }</text>`,
      );
    });
  });
  parts.push("</svg>");
  return parts.join("\n");
}
