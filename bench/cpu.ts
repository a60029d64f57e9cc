/**
 * oto's wasm CPU backend against PyTorch's CPU backend, side by side in one run:
 * `deno task bench:cpu [--cases gemm,conv,train] [--rounds 30] [--threads N]`.
 *
 * Cases (the bar of issue 17):
 * - `gemm`: C = A @ B, 1024 x 1024 x 1024 (PyTorch: its BLAS sgemm; see the BLAS note below);
 * - `conv`: conv2d forward + input and weight gradients, x [8,16,32,32], w [32,16,3,3], pad 1;
 * - `train`: one SGD step (momentum 0.9, lr 0.01; cross entropy; batch 64 of 28x28) of the zoo's
 *   small-cnn, vgg-small and resnet-small, loss read back every step.
 *
 * Before timing, each case checks that both compute the same numbers from the same inputs (the
 * GEMM and conv outputs, and the loss and every updated parameter after one training step from
 * the same weights); a mismatch stops the bench. Then `--rounds` short rounds: in each, oto and
 * the peer run a few reps right after each other (who goes first alternates). Printed per case:
 * the median and best wall time per rep, the CPU-seconds per rep (all threads:
 * `process.cpuUsage()` here, `getrusage` in the peer), and the ratios peer/oto (> 1: oto is
 * faster) of wall time and of CPU-seconds as medians over the rounds with their quartiles (the
 * load of a shared machine drifts within seconds; a round's two halves see about the same), then
 * the same ratios from the totals; the load average before and after.
 *
 * Threads: oto uses `--threads` (default: all hardware threads, main included); the peer gets
 * the same count (`torch.set_num_threads`, OMP/OpenBLAS thread variables). PyTorch's OpenMP
 * threads spin while they wait by default, which on a loaded machine costs it several times its
 * idle speed; `--peer-omp-wait passive` sets OMP_WAIT_POLICY=PASSIVE (its better setting there;
 * `active` forces spinning). The line `peer:` says which was used.
 *
 * BLAS: Debian's python3-torch calls whatever `libblas.so.3` resolves to; on a machine with only
 * the reference BLAS that is ~10x slower than OpenBLAS. The peer prints the library it loaded.
 * `OTO_PEER_BLAS_DIR=/path/to/openblas-pthread` (a folder holding OpenBLAS's `libblas.so.3`,
 * e.g. from `apt-get download libopenblas0-pthread && dpkg -x ...`) is prepended to the peer's
 * LD_LIBRARY_PATH; by default the system's OpenBLAS folder is used when it exists.
 *
 * The peer is skipped (oto's numbers still print) without `/usr/bin/python3` + torch.
 */
import os from "node:os";
import process from "node:process";
import { parseArgs } from "node:util";
import {
  backward,
  conv2d,
  crossEntropyLoss,
  init,
  matmul,
  type Module,
  randn,
  SGD,
  tensor,
  tidy,
  zoo,
} from "../mod.ts";
import { stats } from "./util.ts";

const { values: args } = parseArgs({
  options: {
    cases: { type: "string", default: "gemm,conv,train" },
    rounds: { type: "string", default: "30" },
    threads: { type: "string" },
    python: { type: "string", default: "/usr/bin/python3" },
    "peer-omp-wait": { type: "string" },
  },
});
const ROUNDS = Math.max(1, Number(args.rounds) || 30);
const CASES = new Set(args.cases!.split(","));

// node:os (--allow-sys=loadavg,cpus): Deno asks for every permission to read /proc files.
const loadavg = () => {
  try {
    return os.loadavg().map((v) => v.toFixed(2)).join(" ");
  } catch {
    return "?";
  }
};
let cpuModel = "?";
try {
  cpuModel = `${os.cpus()[0]?.model ?? "?"}, ${os.cpus().length} CPUs`;
} catch { /* no --allow-sys */ }

const { adapter } = await init({
  backend: "wasm",
  threads: args.threads ? Number(args.threads) : undefined,
});
const threads = Number(/(\d+) thread/.exec(adapter)?.[1] ?? 1);
console.log(`cpu: ${cpuModel}; load average ${loadavg()}`);
console.log(`oto: wasm (${adapter})`);

// ---------------------------------------------------------------------------------------------
// The peer process

const dir = Deno.makeTempDirSync({ prefix: "oto-bench-cpu-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

class Peer {
  private lines: AsyncIterator<string>;
  private stdin: WritableStreamDefaultWriter<Uint8Array>;
  constructor(readonly proc: Deno.ChildProcess) {
    this.stdin = proc.stdin.getWriter();
    this.lines = proc.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(lineSplitter())
      [Symbol.asyncIterator]();
  }
  async ask<T = Record<string, unknown>>(req: Record<string, unknown>): Promise<T> {
    await this.stdin.write(new TextEncoder().encode(JSON.stringify(req) + "\n"));
    const r = await this.lines.next();
    if (r.done) throw new Error(`torch peer exited (after ${JSON.stringify(req).slice(0, 80)})`);
    return JSON.parse(r.value) as T;
  }
  async close() {
    await this.ask({ cmd: "quit" }).catch(() => {});
    await this.stdin.close().catch(() => {});
    await this.proc.status;
  }
}

function lineSplitter(): TransformStream<string, string> {
  let buf = "";
  return new TransformStream({
    transform(chunk, ctl) {
      buf += chunk;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        ctl.enqueue(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    },
  });
}

async function startPeer(): Promise<Peer | null> {
  const env: Record<string, string> = {
    OTO_PEER_THREADS: String(threads),
    OMP_NUM_THREADS: String(threads),
    OPENBLAS_NUM_THREADS: String(threads),
  };
  const wait = args["peer-omp-wait"];
  if (wait !== undefined) {
    if (!["active", "passive"].includes(wait)) {
      throw new Error(`--peer-omp-wait must be active or passive, got "${wait}"`);
    }
    env.OMP_WAIT_POLICY = wait.toUpperCase();
  }
  const blasDir = Deno.env.get("OTO_PEER_BLAS_DIR") ??
    ["/usr/lib/x86_64-linux-gnu/openblas-pthread", "/usr/lib/aarch64-linux-gnu/openblas-pthread"]
      .find((d) => {
        try {
          return Deno.statSync(`${d}/libblas.so.3`).isFile;
        } catch {
          return false;
        }
      });
  if (blasDir) {
    env.LD_LIBRARY_PATH = [blasDir, Deno.env.get("LD_LIBRARY_PATH")].filter(Boolean)
      .join(":");
  }
  try {
    const proc = new Deno.Command(args.python!, {
      args: [new URL("./peers/torch_cpu.py", import.meta.url).pathname],
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const peer = new Peer(proc);
    const info = await peer.ask<{ torch: string; threads: number; blas: string; mkldnn: boolean }>(
      { cmd: "info" },
    );
    const ref = /\/blas\/libblas|libblas\.so\.3\.\d/.test(info.blas) &&
      !/openblas/i.test(info.blas);
    console.log(
      `peer: PyTorch ${info.torch}, ${info.threads} threads, oneDNN ${info.mkldnn}, BLAS ` +
        `${info.blas}${ref ? " (the REFERENCE BLAS: set OTO_PEER_BLAS_DIR to OpenBLAS)" : ""}, ` +
        `OMP_WAIT_POLICY ${env.OMP_WAIT_POLICY ?? Deno.env.get("OMP_WAIT_POLICY") ?? "unset"}`,
    );
    return peer;
  } catch (e) {
    console.log(`peer: unavailable (${(e as Error).message.split("\n")[0]}); oto only`);
    return null;
  }
}

const peer = await startPeer();

function writeF32(name: string, data: ArrayLike<number>, int = false) {
  const a = int ? Int32Array.from(data) : Float32Array.from(data);
  Deno.writeFileSync(`${dir}/${name}`, new Uint8Array(a.buffer));
}
function readF32(name: string): Float32Array {
  const b = Deno.readFileSync(`${dir}/${name}`);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

/**
 * Check |a - b| <= atol + rtol |b| elementwise (throws naming `what` and the worst element);
 * returns the largest |a - b| relative to the largest |b|, for the report.
 */
function agree(
  what: string,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  atol: number,
  rtol = atol,
) {
  if (a.length !== b.length) throw new Error(`${what}: ${a.length} vs ${b.length} values`);
  let err = 0, scale = 1e-30;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= atol + rtol * Math.abs(b[i]))) {
      throw new Error(`${what}: oto and PyTorch differ at ${i}: ${a[i]} vs ${b[i]}`);
    }
    err = Math.max(err, d);
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return err / scale;
}

// ---------------------------------------------------------------------------------------------
// Timing

interface Case {
  name: string;
  /** What one rep is, for the rate column (flops or images). */
  unit: { flops?: number; images?: number };
  reps: number;
  oto: () => Promise<void>;
}

function cpuNow(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function timeCase(c: Case): Promise<void> {
  await c.oto();
  if (peer) await peer.ask({ cmd: "time", case: c.name, reps: 1 });
  const ot: number[] = [], pt: number[] = [];
  // Per round: the peer/oto ratios of that round's wall time and CPU-seconds. The load on a
  // shared machine drifts over seconds, so rounds are short, each side runs right after the
  // other (in alternating order) and the ratio's median is taken over rounds.
  const wallRatio: number[] = [], cpuRatio: number[] = [];
  let ocpu = 0, pcpu = 0;
  const load0 = loadavg();
  for (let r = 0; r < ROUNDS; r++) {
    let owall = 0, ocpuR = 0, pwall = 0, pcpuR = 0;
    const runOto = async () => {
      const c0 = cpuNow();
      for (let i = 0; i < c.reps; i++) {
        const t0 = performance.now();
        await c.oto();
        const t = (performance.now() - t0) / 1000;
        ot.push(t);
        owall += t;
      }
      ocpuR = cpuNow() - c0;
    };
    const runPeer = async () => {
      const res = await peer!.ask<{ times: number[]; cpu: number }>({
        cmd: "time",
        case: c.name,
        reps: c.reps,
      });
      pt.push(...res.times);
      pwall = res.times.reduce((s, t) => s + t, 0);
      pcpuR = res.cpu;
    };
    if (peer && r % 2 === 1) await runPeer();
    await runOto();
    if (peer && r % 2 === 0) await runPeer();
    ocpu += ocpuR;
    if (peer) {
      pcpu += pcpuR;
      wallRatio.push(pwall / owall);
      cpuRatio.push(pcpuR / ocpuR);
    }
  }
  const n = ROUNDS * c.reps;
  const so = stats(ot), sp = pt.length ? stats(pt) : null;
  const rate = (t: number) =>
    c.unit.flops
      ? `${(c.unit.flops / t / 1e9).toFixed(1)} GFLOP/s`
      : `${(c.unit.images! / t).toFixed(0)} images/s`;
  const line = (who: string, s: { median: number; min: number }, cpu: number) =>
    `  ${who.padEnd(8)} ${(s.median * 1e3).toFixed(2).padStart(9)} ms median ` +
    `(${rate(s.median)}), best ${(s.min * 1e3).toFixed(2)} ms; ` +
    `${(cpu / n * 1e3).toFixed(2)} CPU-ms/rep (${rate(cpu / n)} per CPU-second)`;
  console.log(`${c.name} (${ROUNDS} rounds of ${c.reps} reps, load ${load0} -> ${loadavg()}):`);
  console.log(line("oto", so, ocpu));
  if (sp) {
    console.log(line("PyTorch", sp, pcpu));
    const w = stats(wallRatio), u = stats(cpuRatio);
    const q = (v: readonly number[], f: number) =>
      [...v].sort((x, y) => x - y)[Math.floor(f * (v.length - 1))];
    console.log(
      `  oto / PyTorch throughput: ${w.median.toFixed(2)}x wall, ${u.median.toFixed(2)}x per ` +
        `CPU-second (medians over rounds; quartiles ${q(wallRatio, 0.25).toFixed(2)}-` +
        `${q(wallRatio, 0.75).toFixed(2)} and ${q(cpuRatio, 0.25).toFixed(2)}-` +
        `${q(cpuRatio, 0.75).toFixed(2)}); totals ${(sp.median / so.median).toFixed(2)}x ` +
        `(median reps), ${(pcpu / ocpu).toFixed(2)}x (CPU-seconds)`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Cases

async function gemmCase(): Promise<Case> {
  const n = 1024;
  const a = randn([n, n], { seed: 1 }).keep(), b = randn([n, n], { seed: 2 }).keep();
  if (peer) {
    writeF32("A", a.hostData());
    writeF32("B", b.hostData());
    await peer.ask({ cmd: "setup", case: "gemm", folder: dir, n });
    await peer.ask({ cmd: "check", case: "gemm" });
    const c = tidy(() => matmul(a, b));
    const e = agree("gemm", c.hostData(), readF32("C.peer"), 1e-3, 1e-4);
    c.dispose();
    console.log(`gemm ${n}: oto and PyTorch agree (max diff ${e.toExponential(1)} of max)`);
  }
  return {
    name: "gemm",
    unit: { flops: 2 * n ** 3 },
    reps: 2,
    oto: () => Promise.resolve(tidy(() => void matmul(a, b))),
  };
}

async function convCase(): Promise<Case> {
  const xs = [8, 16, 32, 32], ws = [32, 16, 3, 3], opts = { stride: 1, padding: 1 };
  const x = randn(xs, { seed: 1 }).keep(), w = randn(ws, { seed: 2, std: 0.1 }).keep();
  const ys = [8, 32, 32, 32];
  const dy = randn(ys, { seed: 3 }).keep();
  x.requiresGrad = w.requiresGrad = true;
  const step = () => {
    for (const t of [x, w]) (t.grad?.dispose(), t.grad = null);
    return tidy(() => {
      const y = conv2d(x, w, null, opts);
      backward(y, dy);
      return y;
    });
  };
  if (peer) {
    writeF32("x", x.hostData());
    writeF32("w", w.hostData());
    writeF32("dy", dy.hostData());
    await peer.ask({ cmd: "setup", case: "conv", folder: dir, x: xs, w: ws, y: ys, ...opts });
    await peer.ask({ cmd: "check", case: "conv" });
    const y = step();
    const e = Math.max(
      agree("conv y", y.hostData(), readF32("y.peer"), 1e-4),
      agree("conv dx", x.grad!.hostData(), readF32("dx.peer"), 1e-4),
      agree("conv dw", w.grad!.hostData(), readF32("dw.peer"), 1e-3, 1e-4),
    );
    y.dispose();
    console.log(`conv: oto and PyTorch agree on y, dx, dw (max diff ${e.toExponential(1)} of max)`);
  }
  const flops = 3 * 2 * 8 * 32 * 32 * 32 * 16 * 9;
  return { name: "conv", unit: { flops }, reps: 5, oto: () => Promise.resolve(step().dispose()) };
}

async function trainCase(model: "small-cnn" | "vgg-small" | "resnet-small"): Promise<Case> {
  const batch = 64;
  const m: Module = zoo[model].build({ seed: 0 });
  const x = randn([batch, 1, 28, 28], { seed: 5 }).keep();
  const labels = Array.from({ length: batch }, (_, i) => (i * 7 + 3) % 10);
  const y = tensor(labels, [batch], { dtype: "i32" }).keep();
  const hyper = { lr: 0.01, momentum: 0.9 };
  const opt = new SGD(m.parameters(), hyper);
  const step = async (): Promise<number> => {
    const loss = tidy(() => {
      const l = crossEntropyLoss(m.call(x), y);
      backward(l);
      return l;
    });
    opt.step();
    opt.zeroGrad();
    const v = await loss.item();
    loss.dispose();
    return v;
  };
  const name = `train:${model}`;
  if (peer) {
    const state = [...m.stateDict()];
    for (const [k, t] of state) writeF32(`p.${k}`, t.hostData());
    writeF32("x", x.hostData());
    writeF32("y", labels, true);
    await peer.ask({
      cmd: "setup",
      case: name,
      folder: dir,
      model,
      x: x.shape,
      ...hyper,
      tensors: state.map(([k, t]) => ({ name: k, shape: t.shape })),
    });
    const { result } = await peer.ask<{ result: number }>({ cmd: "check", case: name });
    const loss = await step();
    let e = agree(`${model} loss`, [loss], [result], 1e-5);
    // Parameters after one step: |diff| <= 1e-5 + 1e-4 |p| (f32 sums in another order).
    for (const [k, p] of m.namedParameters()) {
      e = Math.max(
        e,
        agree(`${model} ${k} after one step`, p.hostData(), readF32(`after.${k}`), 1e-5, 1e-4),
      );
    }
    console.log(
      `${model}: oto and PyTorch agree on the loss (${loss.toFixed(5)}) and every parameter ` +
        `after one step (max diff ${e.toExponential(1)} of max)`,
    );
  }
  return { name, unit: { images: batch }, reps: 2, oto: async () => void await step() };
}

// ---------------------------------------------------------------------------------------------

try {
  if (CASES.has("gemm")) await timeCase(await gemmCase());
  if (CASES.has("conv")) await timeCase(await convCase());
  if (CASES.has("train")) {
    for (const model of ["small-cnn", "vgg-small", "resnet-small"] as const) {
      await timeCase(await trainCase(model));
    }
  }
} finally {
  await peer?.close();
}
