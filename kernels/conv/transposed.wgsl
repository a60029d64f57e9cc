// Transposed 2-D convolution (stride > 1), NCHW, grouped: the gather form of
// y[n, g*O+o, iy*sh-ph+ky*dh, ix*sw-pw+kx*dw] += x[n, g*R+r, iy, ix] * w[g*R+r, o, ky, kx].
// An output pixel ox receives tap kx only when ox+pw-kx*dw is a multiple of sw, so each thread
// takes PX outputs of one residue class (ox = rx + sw*(q0+j)): the tap test is the same for all
// of them and their inputs are consecutive. Threads are ordered phase-major ((ry, rx) slowest),
// so the lanes running together share their tap set and never diverge on it. {{OB}} vec4s of
// output channels per thread (packed weight), PX = {{PX}}; the body is generated unrolled by
// src/ops/conv_codegen.ts ({{...}} parts), as in fwd.wgsl. `rows` holds the rows per phase,
// ceil(ho/sh).
// Prepended: struct P (the conv geometry, kernels/lib/conv_params.wgsl) and the shared index
// functions (kernels/lib/conv_index.wgsl).
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wp: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

// t / s when s divides t, for a signed t and s > 0, computed on |t| only: `%` on a negative
// operand is not portable (GLSL leaves it undefined and naga's GL output passes it through, so
// Mesa's GL path computes -1 % 3 as an unsigned remainder, 0; Vulkan's OpSRem is likewise
// undefined for negative operands without VK_KHR_maintenance8).
struct Quot { q: i32, exact: bool }
fn divExact(t: i32, s: u32) -> Quot {
  let m = u32(abs(t));
  let q = i32(m / s);
  return Quot(select(q, -q, t < 0), m % s == 0u);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = conv_thread(gid.x, gid.z);
  if (i >= p.total) { return; }
  let qb = i % p.nxb;
  var rest = i / p.nxb;
  let a = rest % p.rows;
  rest = rest / p.rows;
  let n = rest % p.n;
  let phase = rest / p.n;
  let ry = phase / p.sw;
  let rx = phase % p.sw;
  let oy = ry + p.sh * a;
  if (oy >= p.ho) { return; }
  let tile = quad_tile(gid.y, {{OB}}u);
  let g = tile.g;
  let ob0 = tile.q0;
  let q0 = qb * {{PX}}u;
  let kk = p.kh * p.kw;
  let wi = i32(p.w);
  let hw = p.h * p.w;
{{SETUP}}
  // Taps outside, channels inside: the tap tests and index divisions run once per tap, the
  // channel loop only loads and multiplies.
  for (var ky = 0u; ky < p.kh; ky++) {
    let ty = divExact(i32(ry) + p.ph - i32(ky * p.dh), p.sh);
    if (!ty.exact) { continue; }
    let iy = ty.q + i32(a);
    if (iy < 0 || iy >= i32(p.h)) { continue; }
    for (var kx = 0u; kx < p.kw; kx++) {
      let tx = divExact(i32(rx) + p.pw - i32(kx * p.dw), p.sw);
      if (!tx.exact) { continue; }
      let ixb = tx.q + i32(q0);
      let rowOff = u32(iy) * p.w;
{{TAP}}
      var xb = (n * p.cin + g * p.r) * hw;
      var wk = g * p.r * kk * p.o4 + (ky * p.kw + kx) * p.o4;
      for (var r = 0u; r < p.r; r++) {
{{BODY}}
        xb += hw;
        wk += kk * p.o4;
      }
    }
  }
  let oc0 = g * p.o;
  let yb = out_row_base(n, g, oy);
  let plane = p.ho * p.wo;
{{STORE}}
}
