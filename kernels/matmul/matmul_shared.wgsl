// C[b] = op(A[b]) @ op(B[b]) for any shapes: the workgroup-memory tiled kernel for hardware GPUs.
// op = transpose when {{TA}}/{{TB}} is true. A 16x16 workgroup computes a 64x64 block of C; each
// K step of 16 stages a 64x16 slab of A and a 16x64 slab of B in workgroup memory (loaded along
// each operand's contiguous axis, zero-filled past the edges), then every invocation accumulates
// a 4x4 block (rows ly + 16i, cols lx + 16j: conflict-free shared reads, coalesced stores).
// On llvmpipe barriers are expensive and shared loads cost as much as global ones, so software
// adapters use the register-tiled kernels instead (src/ops/matmul.ts picks). Batch strides of 0
// broadcast an operand; the batch index is wid.z + p.b0.
struct P {
  m: u32, n: u32, k: u32, batch: u32,
  sa: u32, sb: u32, sc: u32, b0: u32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

const BM = 64u;
const BN = 64u;
const BK = 16u;
var<workgroup> As: array<f32, 1024>; // [BK][BM]
var<workgroup> Bs: array<f32, 1024>; // [BK][BN]

// A is [M,K] (or [K,M] when transposed); zero outside.
fn loadA(base: u32, row: u32, col: u32) -> f32 {
  if (row >= p.m || col >= p.k) { return 0.0; }
  if ({{TA}}) { return a[base + col * p.m + row]; }
  return a[base + row * p.k + col];
}

// B is [K,N] (or [N,K] when transposed); zero outside.
fn loadB(base: u32, row: u32, col: u32) -> f32 {
  if (row >= p.k || col >= p.n) { return 0.0; }
  if ({{TB}}) { return b[base + col * p.k + row]; }
  return b[base + row * p.n + col];
}

@compute @workgroup_size(16, 16, 1)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let bi = wid.z + p.b0;
  let ab = bi * p.sa;
  let bb = bi * p.sb;
  let rowT = wid.y * BM;
  let colT = wid.x * BN;
  let tid = lid.y * 16u + lid.x;
  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < p.k; k0 += BK) {
    // Each invocation stages 4 elements of each slab, 4 consecutive along the contiguous axis.
    if ({{TA}}) {
      let kq = tid / 16u;
      let mq = (tid % 16u) * 4u;
      for (var i = 0u; i < 4u; i++) { As[kq * BM + mq + i] = loadA(ab, rowT + mq + i, k0 + kq); }
    } else {
      let mq = tid / 4u;
      let kq = (tid % 4u) * 4u;
      for (var i = 0u; i < 4u; i++) { As[(kq + i) * BM + mq] = loadA(ab, rowT + mq, k0 + kq + i); }
    }
    if ({{TB}}) {
      let nq = tid / 4u;
      let kq = (tid % 4u) * 4u;
      for (var i = 0u; i < 4u; i++) { Bs[(kq + i) * BN + nq] = loadB(bb, k0 + kq + i, colT + nq); }
    } else {
      let kq = tid / 16u;
      let nq = (tid % 16u) * 4u;
      for (var i = 0u; i < 4u; i++) { Bs[kq * BN + nq + i] = loadB(bb, k0 + kq, colT + nq + i); }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let bv = vec4<f32>(
        Bs[kk * BN + lid.x],
        Bs[kk * BN + lid.x + 16u],
        Bs[kk * BN + lid.x + 32u],
        Bs[kk * BN + lid.x + 48u],
      );
      for (var i = 0u; i < 4u; i++) { acc[i] = fma(vec4<f32>(As[kk * BM + lid.y + 16u * i]), bv, acc[i]); }
    }
    workgroupBarrier();
  }
  let cb = bi * p.sc;
  for (var i = 0u; i < 4u; i++) {
    let r = rowT + lid.y + 16u * i;
    if (r < p.m) {
      for (var j = 0u; j < 4u; j++) {
        let col = colT + lid.x + 16u * j;
        if (col < p.n) { c[cb + r * p.n + col] = acc[i][j]; }
      }
    }
  }
}
