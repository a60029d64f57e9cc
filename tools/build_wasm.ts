/**
 * Build the wasm backend's kernels: `kernels/wasm/*.c` -> `src/backend/wasm/kernels.wasm` and
 * `src/backend/wasm/kernels_wasm.ts` (the same bytes as base64, so the module loads
 * synchronously, with no file or network permission, from a local checkout or from JSR).
 *
 * Usage: `deno task build:wasm [--check]`. `--check` rebuilds into a temporary folder and fails
 * if the committed files differ (the build is reproducible with the same clang).
 *
 * Toolchain: Debian's clang 14 and lld 14 (`apt-get install clang-14 lld-14`), target `wasm32`
 * with SIMD128, threads (atomics, shared memory) and bulk memory. clang 14 spells the relaxed
 * SIMD fused multiply-add as the proposal's early `f32x4.fma` (opcode 0xfd 0xaf 0x01), which
 * today's engines reject; the standard `f32x4.relaxed_madd` is 0xfd 0x85 0x02, the same length
 * and operand order (a * b + c). The build rewrites exactly the instructions that
 * `llvm-objdump` decodes as `f32x4.fma`, at the offsets it reports, and checks each one.
 *
 * @module
 */
import { parseArgs } from "node:util";

const ROOT = new URL("../", import.meta.url);
const SRC = new URL("kernels/wasm/", ROOT);
const OUT_WASM = new URL("src/backend/wasm/kernels.wasm", ROOT);
const OUT_TS = new URL("src/backend/wasm/kernels_wasm.ts", ROOT);

/** Compiler flags. `-disable-lsr`: loop strength reduction turns `p + 12` into a separate
 * i32.add per load (wasm offsets must not wrap, so LLVM cannot fold a non-inbounds add);
 * without it the micro-kernel's loads carry their offsets as immediates. */
const CFLAGS = [
  "--target=wasm32",
  "-O3",
  "-msimd128",
  "-mrelaxed-simd",
  "-matomics",
  "-mbulk-memory",
  "-mmutable-globals",
  "-mllvm",
  "-disable-lsr",
  "-nostdlib",
  "-ffreestanding",
  "-Wall",
  "-Werror",
];
const LDFLAGS = [
  "--no-entry",
  "--import-memory",
  "--shared-memory",
  "--max-memory=4294967296",
  "--stack-first",
  "-z",
  "stack-size=1048576",
  "--export=__heap_base",
  "--strip-debug",
];

function tool(names: string[]): string {
  for (const n of names) {
    try {
      const r = new Deno.Command(n, { args: ["--version"], stdout: "piped", stderr: "piped" })
        .outputSync();
      if (r.success) return n;
    } catch { /* not installed */ }
  }
  throw new Error(
    `build_wasm: none of ${names.join(", ")} found; install Debian's clang-14 and lld-14`,
  );
}

function run(cmd: string, args: string[]): string {
  const r = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  const err = new TextDecoder().decode(r.stderr);
  if (!r.success) throw new Error(`build_wasm: ${cmd} ${args.join(" ")} failed:\n${err}`);
  return new TextDecoder().decode(r.stdout);
}

function leb(bytes: Uint8Array, p: number): [number, number] {
  let r = 0, s = 0, b: number;
  do {
    b = bytes[p++];
    r += (b & 0x7f) * 2 ** s;
    s += 7;
  } while (b & 0x80);
  return [r, p];
}

/** Offset of the code section's contents in a wasm binary. */
function codeSectionStart(bytes: Uint8Array): number {
  let p = 8;
  while (p < bytes.length) {
    const id = bytes[p];
    const [size, q] = leb(bytes, p + 1);
    if (id === 10) return q;
    p = q + size;
  }
  throw new Error("build_wasm: no code section");
}

/** Rewrite clang 14's `f32x4.fma` to `f32x4.relaxed_madd`; returns how many were patched. */
function patchFma(bytes: Uint8Array, disassembly: string): number {
  const code = codeSectionStart(bytes);
  let n = 0;
  for (const line of disassembly.split("\n")) {
    if (!/\bf32x4\.fma\b|\bf32x4\.fms\b|relaxed/.test(line)) continue;
    const m = /^\s*([0-9a-f]+):\s+fd af 01\s+f32x4\.fma\s*$/.exec(line);
    if (!m) throw new Error(`build_wasm: unexpected relaxed-SIMD instruction: ${line.trim()}`);
    const at = code + parseInt(m[1], 16);
    if (bytes[at] !== 0xfd || bytes[at + 1] !== 0xaf || bytes[at + 2] !== 0x01) {
      throw new Error(`build_wasm: f32x4.fma expected at byte ${at}`);
    }
    bytes[at + 1] = 0x85;
    bytes[at + 2] = 0x02;
    n++;
  }
  return n;
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return [...h].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** Build into `dir`; returns the wasm bytes and the generated TypeScript. */
export async function build(dir: string): Promise<{ wasm: Uint8Array; ts: string }> {
  const clang = tool(["clang-14", "clang"]);
  const ld = tool(["wasm-ld-14", "wasm-ld"]);
  const objdump = tool(["llvm-objdump-14", "llvm-objdump"]);
  const sources = [...Deno.readDirSync(SRC)].filter((e) => e.name.endsWith(".c"))
    .map((e) => e.name).sort();
  const objs: string[] = [];
  for (const s of sources) {
    const o = `${dir}/${s.replace(/\.c$/, ".o")}`;
    run(clang, [...CFLAGS, "-c", new URL(s, SRC).pathname, "-o", o]);
    objs.push(o);
  }
  const linked = `${dir}/kernels.wasm`;
  run(ld, [...LDFLAGS, ...objs, "-o", linked]);
  const wasm = Deno.readFileSync(linked);
  const patched = patchFma(wasm, run(objdump, ["-d", linked]));
  if (patched === 0) throw new Error("build_wasm: no f32x4.fma found (micro-kernel changed?)");
  const ts = `// Generated by tools/build_wasm.ts from kernels/wasm/*.c: do not edit.
// ${wasm.length} bytes, sha256 ${await sha256(wasm)}, ${patched} relaxed_madd.

/** SHA-256 of src/backend/wasm/kernels.wasm, which these bytes are. */
export const KERNELS_SHA256 = "${await sha256(wasm)}";

/** The kernels module, base64. */
export const KERNELS_BASE64 =
  "${base64(wasm)}";
`;
  return { wasm, ts };
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { check: { type: "boolean" } } });
  const dir = Deno.makeTempDirSync({ prefix: "oto-wasm-" });
  try {
    const { wasm, ts } = await build(dir);
    if (values.check) {
      const old = Deno.readFileSync(OUT_WASM);
      const oldTs = Deno.readTextFileSync(OUT_TS);
      if (await sha256(old) !== await sha256(wasm) || oldTs !== ts) {
        console.error("build_wasm --check: the committed kernels differ from a fresh build");
        Deno.exit(1);
      }
      console.log(`build_wasm --check: up to date (${wasm.length} bytes)`);
    } else {
      Deno.writeFileSync(OUT_WASM, wasm);
      Deno.writeTextFileSync(OUT_TS, ts);
      console.log(`build_wasm: wrote ${OUT_WASM.pathname} (${wasm.length} bytes) and the .ts`);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}
