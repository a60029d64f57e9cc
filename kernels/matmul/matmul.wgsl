// C[b] = op(A[b]) @ op(B[b]); op = transpose when {{TA}}/{{TB}} is true. Each thread computes a
// 4x4 block of C held in registers (register tiling; no workgroup memory, which measured slower
// on llvmpipe). Batch strides of 0 broadcast an operand over the batch.
struct P {
  m: u32, n: u32, k: u32, batch: u32,
  sa: u32, sb: u32, sc: u32, _pad: u32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

fn loadA(base: u32, row: u32, col: u32) -> f32 {
  // A is [M,K] (or [K,M] when transposed)
  if (row >= p.m || col >= p.k) { return 0.0; }
  if ({{TA}}) { return a[base + col * p.m + row]; }
  return a[base + row * p.k + col];
}

fn loadB(base: u32, row: u32, col: u32) -> f32 {
  // B is [K,N] (or [N,K] when transposed)
  if (row >= p.k || col >= p.n) { return 0.0; }
  if ({{TB}}) { return b[base + col * p.k + row]; }
  return b[base + row * p.n + col];
}

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row0 = gid.y * 4u;
  let col0 = gid.x * 4u;
  let bi = gid.z;
  if (row0 >= p.m || col0 >= p.n) { return; }
  let ab = bi * p.sa;
  let bb = bi * p.sb;
  var acc: array<vec4<f32>, 4>;
  for (var kk = 0u; kk < p.k; kk++) {
    let bv = vec4<f32>(loadB(bb, kk, col0), loadB(bb, kk, col0 + 1u), loadB(bb, kk, col0 + 2u),
      loadB(bb, kk, col0 + 3u));
    acc[0] += loadA(ab, row0, kk) * bv;
    acc[1] += loadA(ab, row0 + 1u, kk) * bv;
    acc[2] += loadA(ab, row0 + 2u, kk) * bv;
    acc[3] += loadA(ab, row0 + 3u, kk) * bv;
  }
  let cb = bi * p.sc;
  for (var i = 0u; i < 4u; i++) {
    let r = row0 + i;
    if (r >= p.m) { break; }
    for (var j = 0u; j < 4u; j++) {
      if (col0 + j < p.n) { c[cb + r * p.n + col0 + j] = acc[i][j]; }
    }
  }
}
