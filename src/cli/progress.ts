/**
 * A terminal progress bar with throughput and ETA, and a fixed-width table printer. Writes to
 * stderr so stdout stays clean for machine-readable output; degrades to one line per update
 * when stderr is not a terminal (CI logs).
 */

const enc = new TextEncoder();

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return "--:--";
  const m = Math.floor(s / 60), r = Math.floor(s % 60);
  return m >= 60
    ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`
    : `${m}:${String(r).padStart(2, "0")}`;
}

/** A progress bar over `total` units (e.g. images), updated with `tick(n, extra)`. */
export class Progress {
  private done = 0;
  private skipped = 0;
  private readonly start: number;
  // The first line waits like the others: a rate measured over one batch means nothing.
  private lastDraw: number;
  private readonly tty: boolean;

  /** `clock` gives milliseconds (tests pass a fake one: no test depends on the wall clock). */
  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly unit = "img",
    private readonly out: { writeSync(b: Uint8Array): number } = Deno.stderr,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.tty = Deno.stderr.isTerminal();
    this.start = this.lastDraw = clock();
  }

  /**
   * Start at `n` units already done (a resumed run): they count toward the bar and the ETA,
   * not toward the rate.
   */
  resumeAt(n: number): this {
    this.done = this.skipped = n;
    return this;
  }

  /** Advance by `n` units; `extra` (e.g. "loss 0.41") is shown after the rate. */
  tick(n: number, extra = ""): void {
    this.done += n;
    const now = this.clock();
    const final = this.done >= this.total;
    // Redraw at most 10 times a second on a terminal, every 10 s in logs.
    if (!final && now - this.lastDraw < (this.tty ? 100 : 10_000)) return;
    this.lastDraw = now;
    this.out.writeSync(enc.encode(this.line(now, extra) + (this.tty && !final ? "\r" : "\n")));
  }

  /** The current line (without control characters). */
  line(now = this.clock(), extra = ""): string {
    const el = (now - this.start) / 1000;
    const rate = (this.done - this.skipped) / Math.max(el, 1e-9);
    const frac = Math.min(1, this.done / Math.max(this.total, 1));
    const w = 24, fill = Math.round(frac * w);
    const bar = "█".repeat(fill) + "░".repeat(w - fill);
    const eta = (this.total - this.done) / Math.max(rate, 1e-9);
    return `${this.label} ${bar} ${String(Math.round(frac * 100)).padStart(3)}% ` +
      `${this.done}/${this.total} ${rate.toFixed(1)} ${this.unit}/s ` +
      `elapsed ${fmtTime(el)} eta ${fmtTime(eta)}${extra ? " " + extra : ""}`;
  }
}

/** Format rows as an aligned text table (first row = header). */
export function table(rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map((c) => String(c)));
  const widths = cells[0].map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((c, i) => c.padStart(widths[i])).join("  ");
  return [line(cells[0]), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)]
    .join("\n");
}
