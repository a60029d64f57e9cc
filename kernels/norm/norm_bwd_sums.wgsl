// Per-group sums for normalisation backward:
//   out[q] = Σ a,  out[count + q] = Σ a·xhat,  a = g · (gamma[p] if useGamma else 1),
// over the elements of group q (same group description as norm_stats.wgsl). The statistics
// group of an element is r = r0 + a·ra + b·rb and its parameter p = p0 + a·pa + b·pb, with
// r0 = hi·rh + lo·rl and p0 = hi·ph + lo·pl. With the statistics groups these are the two
// terms of dx; with the parameter groups they are dbeta and dgamma. T = vec4<f32> as in
// norm_stats.wgsl (then rb = pb = 0: the 4 elements of a vec4 share r and p).
struct P {
  count: u32, nx: u32, qd: u32, useGamma: u32,
  bh: u32, bl: u32, rh: u32, rl: u32,
  ph: u32, pl: u32, A: u32, B: u32,
  oa: u32, ob: u32, ra: u32, rb: u32,
  pa: u32, pb: u32, nc: f32, eps: f32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<{{T}}>;
@group(0) @binding(2) var<storage, read> g: array<{{T}}>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> vars: array<f32>;
@group(0) @binding(5) var<storage, read> gamma: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

// Sum of the lanes of a T (f32: itself).
fn hsum(v: {{T}}) -> f32 { {{HSUM}} }

var<workgroup> part: array<vec2<f32>, 64>;

struct Start { base: u32, r0: u32, p0: u32 }

fn startOf(q: u32) -> Start {
  let hi = q / p.qd;
  let lo = q % p.qd;
  return Start(hi * p.bh + lo * p.bl, hi * p.rh + lo * p.rl, hi * p.ph + lo * p.pl);
}

fn term(st: Start, a: u32, b: u32) -> vec2<f32> {
  let i = st.base + a * p.oa + b * p.ob;
  let r = st.r0 + a * p.ra + b * p.rb;
  let xhat = (x[i] - mean[r]) * inverseSqrt(vars[r] + p.eps);
  var v = g[i];
  if (p.useGamma == 1u) { v *= gamma[st.p0 + a * p.pa + b * p.pb]; }
  return vec2<f32>(hsum(v), hsum(v * xhat));
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let q = wid.x + wid.y * p.nx;
  let live = q < p.count;
  let st = startOf(q);
  let sa = 64u / p.B;
  let sb = 64u % p.B;
  var a = lid / p.B;
  var b = lid % p.B;
  var acc = vec2<f32>(0.0, 0.0);
  while (live && a < p.A) {
    acc += term(st, a, b);
    a += sa;
    b += sb;
    if (b >= p.B) { b -= p.B; a += 1u; }
  }
  part[lid] = acc;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (lid < s) { part[lid] += part[lid + s]; }
    workgroupBarrier();
  }
  if (live && lid == 0u) {
    out[q] = part[0].x;
    out[p.count + q] = part[0].y;
  }
}

@compute @workgroup_size(64)
fn per_thread(@builtin(global_invocation_id) gid: vec3<u32>) {
  let q = gid.x + gid.y * p.nx * 64u;
  if (q >= p.count) { return; }
  let st = startOf(q);
  var acc = vec2<f32>(0.0, 0.0);
  for (var a = 0u; a < p.A; a++) {
    for (var b = 0u; b < p.B; b++) { acc += term(st, a, b); }
  }
  out[q] = acc.x;
  out[p.count + q] = acc.y;
}
