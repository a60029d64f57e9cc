// C[b] = op(A[b]) @ op(B[b]) for any shapes: the bounds-checked register-tiled kernel.
// op = transpose when {{TA}}/{{TB}} is true. A workgroup of 8x2 invocations covers a 32x32 block
// of C (src/ops/linear.ts relies on that grid); each invocation accumulates 16 rows x 4 columns
// in registers, no workgroup memory. llvmpipe runs the 8 invocations along x as the lanes of one
// vector, so the lanes share their rows of A and read 32 consecutive columns of B. Row and column
// indices are clamped once before the K loop, so the loop has no branches: lanes past the edge
// compute duplicates that are never stored. Batch strides of 0 broadcast an operand; the batch
// index is gid.z + p.b0 (grids past 65535 batches are split into several dispatches).
// matmul_vec4.wgsl is the fast path for aligned shapes, matmul_shared.wgsl the kernel for GPUs.
struct P {
  m: u32, n: u32, k: u32, batch: u32,
  sa: u32, sb: u32, sc: u32, b0: u32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

@compute @workgroup_size(8, 2, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let m = p.m;
  let n = p.n;
  let k = p.k;
  let row0 = gid.y * 16u;
  let col0 = gid.x * 4u;
  if (row0 >= m || col0 >= n) { return; }
  let bi = gid.z + p.b0;
  let lo = vec4<u32>(0u, 1u, 2u, 3u);
  // Element index of (row, k = 0) in A for 16 rows, 4 per vector, and its step along K.
  let ra = vec4<u32>(bi * p.sa);
  let last = vec4<u32>(m - 1u);
  var ia0 = min(vec4<u32>(row0) + lo, last);
  var ia1 = min(vec4<u32>(row0 + 4u) + lo, last);
  var ia2 = min(vec4<u32>(row0 + 8u) + lo, last);
  var ia3 = min(vec4<u32>(row0 + 12u) + lo, last);
  var sa = m;
  if (!{{TA}}) {
    ia0 *= k;
    ia1 *= k;
    ia2 *= k;
    ia3 *= k;
    sa = 1u;
  }
  ia0 += ra;
  ia1 += ra;
  ia2 += ra;
  ia3 += ra;
  // Element index of (k = 0, col) in B for 4 columns, and its step along K.
  var ib = min(vec4<u32>(col0) + lo, vec4<u32>(n - 1u));
  var sb = n;
  if ({{TB}}) {
    ib *= k;
    sb = 1u;
  }
  ib += vec4<u32>(bi * p.sb);
  var acc0 = vec4<f32>();
  var acc1 = vec4<f32>();
  var acc2 = vec4<f32>();
  var acc3 = vec4<f32>();
  var acc4 = vec4<f32>();
  var acc5 = vec4<f32>();
  var acc6 = vec4<f32>();
  var acc7 = vec4<f32>();
  var acc8 = vec4<f32>();
  var acc9 = vec4<f32>();
  var acc10 = vec4<f32>();
  var acc11 = vec4<f32>();
  var acc12 = vec4<f32>();
  var acc13 = vec4<f32>();
  var acc14 = vec4<f32>();
  var acc15 = vec4<f32>();
  for (var kk = 0u; kk < k; kk++) {
    let bv = vec4<f32>(b[ib.x], b[ib.y], b[ib.z], b[ib.w]);
    let a0 = vec4<f32>(a[ia0.x], a[ia0.y], a[ia0.z], a[ia0.w]);
    let a1 = vec4<f32>(a[ia1.x], a[ia1.y], a[ia1.z], a[ia1.w]);
    let a2 = vec4<f32>(a[ia2.x], a[ia2.y], a[ia2.z], a[ia2.w]);
    let a3 = vec4<f32>(a[ia3.x], a[ia3.y], a[ia3.z], a[ia3.w]);
    acc0 = fma(vec4<f32>(a0.x), bv, acc0);
    acc1 = fma(vec4<f32>(a0.y), bv, acc1);
    acc2 = fma(vec4<f32>(a0.z), bv, acc2);
    acc3 = fma(vec4<f32>(a0.w), bv, acc3);
    acc4 = fma(vec4<f32>(a1.x), bv, acc4);
    acc5 = fma(vec4<f32>(a1.y), bv, acc5);
    acc6 = fma(vec4<f32>(a1.z), bv, acc6);
    acc7 = fma(vec4<f32>(a1.w), bv, acc7);
    acc8 = fma(vec4<f32>(a2.x), bv, acc8);
    acc9 = fma(vec4<f32>(a2.y), bv, acc9);
    acc10 = fma(vec4<f32>(a2.z), bv, acc10);
    acc11 = fma(vec4<f32>(a2.w), bv, acc11);
    acc12 = fma(vec4<f32>(a3.x), bv, acc12);
    acc13 = fma(vec4<f32>(a3.y), bv, acc13);
    acc14 = fma(vec4<f32>(a3.z), bv, acc14);
    acc15 = fma(vec4<f32>(a3.w), bv, acc15);
    ia0 += vec4<u32>(sa);
    ia1 += vec4<u32>(sa);
    ia2 += vec4<u32>(sa);
    ia3 += vec4<u32>(sa);
    ib += vec4<u32>(sb);
  }
  let ic = bi * p.sc + row0 * n + col0;
  var rows = array<vec4<f32>, 16>(
    acc0, acc1, acc2, acc3, acc4, acc5, acc6, acc7,
    acc8, acc9, acc10, acc11, acc12, acc13, acc14, acc15,
  );
  let cols = min(n - col0, 4u);
  for (var i = 0u; i < min(m - row0, 16u); i++) {
    for (var j = 0u; j < cols; j++) { c[ic + i * n + j] = rows[i][j]; }
  }
}
