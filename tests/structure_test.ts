/**
 * Structure rules of `src/`, checked on the source text:
 * - no import cycle between folders of `src/` (each top-level file counts as its own unit),
 *   except through type-only imports of leaf modules (a leaf imports nothing);
 * - no cycle of value imports between files (type-only imports are erased, so they cannot
 *   make module evaluation order matter);
 * - no file over 700 lines.
 */
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const srcDir = join(root, "src");

const MAX_LINES = 700;
/** Files allowed over {@link MAX_LINES} for now, each with the change that removes it. */
const LONG_FILE_ALLOWLIST: Record<string, string> = {};

/** One import or re-export statement. */
export interface ImportEdge {
  from: string;
  to: string;
  /** Erased at runtime: `import type`, `export type`, or every named specifier is `type`. */
  typeOnly: boolean;
}

/**
 * The import/re-export statements of a module. Statements start at column 0 (deno fmt keeps
 * them there), which keeps JSDoc examples (` * import ...`) and WGSL strings out.
 */
export function parseImports(text: string): { spec: string; typeOnly: boolean }[] {
  const out: { spec: string; typeOnly: boolean }[] = [];
  const re =
    /^(import|export)(\s+type)?\s*(?:(\*(?:\s+as\s+\w+)?|\{[^}]*\}|\w+(?:\s*,\s*(?:\{[^}]*\}|\*\s+as\s+\w+))?)\s*from\s*)?["']([^"']+)["']/gm;
  for (const m of text.matchAll(re)) {
    const [, kw, typeKw, clause, spec] = m;
    // `export const x = "..."` cannot match: the clause must be followed by `from` or the
    // specifier must follow the keyword directly (`import "./side_effect.ts"`).
    if (kw === "export" && clause === undefined) continue;
    let typeOnly = typeKw !== undefined;
    if (!typeOnly && clause?.startsWith("{")) {
      const names = clause.slice(1, -1).split(",").map((s) => s.trim()).filter((s) => s);
      typeOnly = names.length > 0 && names.every((n) => n.startsWith("type "));
    }
    out.push({ spec, typeOnly });
  }
  // Dynamic imports load code too: count them as value imports.
  for (const m of text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)) {
    out.push({ spec: m[1], typeOnly: false });
  }
  return out;
}

function listTs(dir: string): string[] {
  const files: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) files.push(...listTs(p));
    else if (e.isFile && e.name.endsWith(".ts")) files.push(p);
  }
  return files.sort();
}

/** The import graph of `src/`: file paths relative to the repository root. */
export function srcGraph(): { files: Map<string, string>; edges: ImportEdge[] } {
  const files = new Map<string, string>();
  for (const abs of listTs(srcDir)) files.set(relative(root, abs), Deno.readTextFileSync(abs));
  const edges: ImportEdge[] = [];
  for (const [file, text] of files) {
    for (const { spec, typeOnly } of parseImports(text)) {
      if (!spec.startsWith(".")) continue; // npm: and bare specifiers are outside src/
      const to = relative(root, resolve(root, dirname(file), spec));
      if (!to.startsWith("src/")) continue;
      edges.push({ from: file, to, typeOnly });
    }
  }
  return { files, edges };
}

/** The unit a file belongs to for layering: its folder under src/, or the file itself. */
export function unitOf(file: string): string {
  const parts = file.split("/");
  return parts.length > 2 ? `${parts[0]}/${parts[1]}/` : file;
}

/** Strongly connected components with more than one node, or with a self edge. */
export function cycles(nodes: Iterable<string>, adj: Map<string, Set<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of adj.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || adj.get(v)?.has(v)) out.push(comp.sort());
    }
  };
  for (const v of nodes) if (!idx.has(v)) visit(v);
  return out;
}

function addEdge(adj: Map<string, Set<string>>, a: string, b: string) {
  if (!adj.has(a)) adj.set(a, new Set());
  adj.get(a)!.add(b);
}

/** Why each edge of a cycle exists: "a -> b (file x imports file y)". */
function explain(comp: string[], edges: ImportEdge[], key: (f: string) => string): string {
  const inComp = new Set(comp);
  const lines = edges.filter((e) =>
    inComp.has(key(e.from)) && inComp.has(key(e.to)) && key(e.from) !== key(e.to)
  ).map((e) => `    ${e.from} -> ${e.to}${e.typeOnly ? " (type)" : ""}`);
  return `  [${comp.join(", ")}]\n${[...new Set(lines)].join("\n")}`;
}

Deno.test("structure: the import parser sees value, type-only and re-export statements", () => {
  const got = parseImports(
    [
      `import { a, type B } from "./a.ts";`,
      `import type { C } from "./c.ts";`,
      `import { type D, type E } from "./d.ts";`,
      `import {\n  f,\n  g,\n} from "./f.ts";`,
      `export * from "./h.ts";`,
      `export type { I } from "./i.ts";`,
      `export { j, type J } from "./j.ts";`,
      `import "./side.ts";`,
      `import * as k from "./k.ts";`,
      `import def, { l } from "./l.ts";`,
      `export const m = "./not_an_import.ts";`,
      ` * import { x } from "./in_a_comment.ts";`,
      `const n = await import("./dyn.ts");`,
    ].join("\n"),
  );
  assert.deepEqual(got, [
    { spec: "./a.ts", typeOnly: false },
    { spec: "./c.ts", typeOnly: true },
    { spec: "./d.ts", typeOnly: true },
    { spec: "./f.ts", typeOnly: false },
    { spec: "./h.ts", typeOnly: false },
    { spec: "./i.ts", typeOnly: true },
    { spec: "./j.ts", typeOnly: false },
    { spec: "./side.ts", typeOnly: false },
    { spec: "./k.ts", typeOnly: false },
    { spec: "./l.ts", typeOnly: false },
    { spec: "./dyn.ts", typeOnly: false },
  ]);
});

Deno.test("structure: cycle finder reports a strongly connected component", () => {
  const adj = new Map<string, Set<string>>();
  addEdge(adj, "a", "b");
  addEdge(adj, "b", "c");
  addEdge(adj, "c", "a");
  addEdge(adj, "c", "d");
  assert.deepEqual(cycles(["a", "b", "c", "d"], adj), [["a", "b", "c"]]);
});

Deno.test("structure: every relative import under src/ resolves to a file", () => {
  const { files, edges } = srcGraph();
  assert.ok(edges.length > 100, `only ${edges.length} imports parsed: is the parser broken?`);
  const missing = edges.filter((e) => !files.has(e.to)).map((e) => `${e.from} -> ${e.to}`);
  assert.deepEqual(missing, []);
});

Deno.test("structure: no import cycle between src/ folders except type-only leaf imports", () => {
  const { files, edges } = srcGraph();
  const leaves = new Set([...files.keys()].filter((f) => parseImports(files.get(f)!).length === 0));
  const counted = edges.filter((e) => !(e.typeOnly && leaves.has(e.to)));
  const adj = new Map<string, Set<string>>();
  for (const e of counted) {
    if (unitOf(e.from) !== unitOf(e.to)) addEdge(adj, unitOf(e.from), unitOf(e.to));
  }
  const found = cycles(new Set([...files.keys()].map(unitOf)), adj);
  assert.ok(
    found.length === 0,
    `import cycles between src/ units (break them, or import types from a leaf module):\n` +
      found.map((c) => explain(c, counted, unitOf)).join("\n"),
  );
});

Deno.test("structure: no value-import cycle between files under src/", () => {
  const { files, edges } = srcGraph();
  const values = edges.filter((e) => !e.typeOnly);
  const adj = new Map<string, Set<string>>();
  for (const e of values) addEdge(adj, e.from, e.to);
  const found = cycles(files.keys(), adj);
  assert.ok(
    found.length === 0,
    `value-import cycles between files:\n` + found.map((c) => explain(c, values, (f) => f))
      .join("\n"),
  );
});

Deno.test("structure: the op spec is a leaf, and src/ops/ imports no layer built on it", () => {
  const { files, edges } = srcGraph();
  assert.deepEqual(parseImports(files.get("src/ops/spec.ts")!), [], "src/ops/spec.ts imports");
  const above = ["src/zig/", "src/onnx/", "src/graph/", "src/nn/", "src/compress/"];
  const bad = edges.filter((e) => e.from.startsWith("src/ops/") && above.includes(unitOf(e.to)))
    .map((e) => `${e.from} -> ${e.to}`);
  assert.deepEqual(bad, []);
});

Deno.test(`structure: no file under src/ over ${MAX_LINES} lines`, () => {
  const { files } = srcGraph();
  const long = [...files].map(([f, text]) => [f, text.split("\n").length - 1] as const)
    .filter(([f, n]) => n > MAX_LINES && !(f in LONG_FILE_ALLOWLIST));
  assert.deepEqual(
    long.map(([f, n]) => `${f}: ${n} lines`),
    [],
    `files over ${MAX_LINES} lines: split them along a real seam`,
  );
  // An allowlisted file that got short must leave the list, so it cannot grow back unnoticed.
  const stale = Object.keys(LONG_FILE_ALLOWLIST).filter((f) =>
    !files.has(f) || files.get(f)!.split("\n").length - 1 <= MAX_LINES
  );
  assert.deepEqual(stale, [], "allowlisted files that are short now: remove them from the list");
});
