// Mean and biased variance of each normalisation group (two passes for a stable variance).
// Group q (hi = q / qd, lo = q % qd) holds the A·B elements base + a·oa + b·ob with
// base = hi·bh + lo·bl; this covers batch norm (per channel over N·H·W), instance/group/layer
// norm (contiguous runs) and channels-first layer norm (over C at each pixel). Statistics
// divide by `nc` >= A·B: the missing elements count as zeros (layerNorm2d's normCount).
// `main`: one workgroup of 64 threads per group (few large groups; tree reduction).
// `per_thread`: one thread per group (many small groups; neighbouring threads, neighbouring
// addresses). No per-element integer division in either (slow on CPU-emulated GPUs).
// T = vec4<f32> when runs of 4 along b are contiguous (src/ops/norm.ts then passes B, oa, bh, bl
// in vec4 units and W = 4): a quarter of the loads, each a per-lane loop on llvmpipe.
struct P {
  count: u32, nx: u32, qd: u32, useGamma: u32,
  bh: u32, bl: u32, rh: u32, rl: u32,
  ph: u32, pl: u32, A: u32, B: u32,
  oa: u32, ob: u32, ra: u32, rb: u32,
  pa: u32, pb: u32, nc: f32, eps: f32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<{{T}}>;
@group(0) @binding(2) var<storage, read_write> mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> vars: array<f32>;

// Sum of the lanes of a T (f32: itself).
fn hsum(v: {{T}}) -> f32 { {{HSUM}} }

var<workgroup> part: array<f32, 64>;

fn wgSum(v: f32, lid: u32) -> f32 {
  part[lid] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (lid < s) { part[lid] += part[lid + s]; }
    workgroupBarrier();
  }
  let total = part[0];
  workgroupBarrier();
  return total;
}

fn baseOf(q: u32) -> u32 {
  return (q / p.qd) * p.bh + (q % p.qd) * p.bl;
}

fn finish(q: u32, m: f32, sq: f32) {
  mean[q] = m;
  vars[q] = max((sq + (p.nc - f32(p.A * p.B * {{W}}u)) * m * m) / p.nc, 0.0);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let q = wid.x + wid.y * p.nx;
  let live = q < p.count;
  let base = baseOf(q);
  // Thread lid visits flat indices lid, lid+64, ... as (a, b) counters.
  let a0 = lid / p.B;
  let b0 = lid % p.B;
  let sa = 64u / p.B;
  let sb = 64u % p.B;
  var acc = {{T}}(0.0);
  var a = a0;
  var b = b0;
  while (live && a < p.A) {
    acc += x[base + a * p.oa + b * p.ob];
    a += sa;
    b += sb;
    if (b >= p.B) { b -= p.B; a += 1u; }
  }
  let m = wgSum(hsum(acc), lid) / p.nc;
  var sq = 0.0;
  a = a0;
  b = b0;
  while (live && a < p.A) {
    let d = x[base + a * p.oa + b * p.ob] - m;
    sq += hsum(d * d);
    a += sa;
    b += sb;
    if (b >= p.B) { b -= p.B; a += 1u; }
  }
  let total = wgSum(sq, lid);
  if (live && lid == 0u) { finish(q, m, total); }
}

@compute @workgroup_size(64)
fn per_thread(@builtin(global_invocation_id) gid: vec3<u32>) {
  let q = gid.x + gid.y * p.nx * 64u;
  if (q >= p.count) { return; }
  let base = baseOf(q);
  var acc = {{T}}(0.0);
  for (var a = 0u; a < p.A; a++) {
    for (var b = 0u; b < p.B; b++) { acc += x[base + a * p.oa + b * p.ob]; }
  }
  let m = hsum(acc) / p.nc;
  var sq = 0.0;
  for (var a = 0u; a < p.A; a++) {
    for (var b = 0u; b < p.B; b++) {
      let d = x[base + a * p.oa + b * p.ob] - m;
      sq += hsum(d * d);
    }
  }
  finish(q, m, sq);
}
