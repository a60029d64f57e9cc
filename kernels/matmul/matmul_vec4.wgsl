// C[b] = op(A[b]) @ op(B[b]): the register-tiled fast path for software adapters (llvmpipe).
// op = transpose when {{TA}}/{{TB}} is true. Needs N % 4 == 0, K % 4 == 0 and, when A is
// transposed, M % 4 == 0, so every operand row is a whole number of vec4s; src/ops/matmul.ts
// falls back to matmul.wgsl otherwise.
//
// Why it looks like this: llvmpipe runs 8 invocations along x as the lanes of one 256-bit vector
// and turns every storage-buffer load into a per-lane loop with a bounds check, so loads cost
// far more than arithmetic. Each invocation therefore keeps an {{R}}x{{C}} block of C in registers
// and reads A and B as vec4s, {{R}}+{{C}} vec4 loads per 4 steps of K feeding {{R}}*{{C}}*4 FMAs.
// The body is unrolled by src/ops/matmul.ts (its {{...}} parts are generated there) because
// llvmpipe keeps loop-indexed local arrays in memory. Rows and columns past the edge are
// clamped before the K loop (duplicates, never stored), so the loop has no branches. Batch
// strides of 0 broadcast an operand; the batch index is gid.z + p.b0.
struct P {
  m: u32, n: u32, k: u32, batch: u32,
  sa: u32, sb: u32, sc: u32, b0: u32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4<f32>>;

@compute @workgroup_size({{WX}}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let m = p.m;
  let n = p.n;
  let m4 = p.m / 4u;
  let n4 = p.n / 4u;
  let k4 = p.k / 4u;
  let row0 = gid.y * {{R}}u;
  let cb0 = gid.x * {{CB}}u; // first vec4 column of this invocation's block
  if (row0 >= m || cb0 >= n4) { return; }
  let bi = gid.z + p.b0;
  let ab = bi * (p.sa / 4u);
  let bb = bi * (p.sb / 4u);
{{SETUP}}
  for (var kk = 0u; kk < k4; kk++) {
{{LOAD}}
{{FMA}}
  }
  let ic = bi * (p.sc / 4u) + row0 * n4 + cb0;
{{STORE}}
}
