// dx of a normalisation, one thread per element (element layout as in norm_apply.wgsl):
//   center = 1 (batch statistics): dx = rstd · (gamma[c]·g - (S1[r] + xhat·S2[r]) / nc)
//   center = 0 (fixed statistics, eval batch norm): dx = rstd · gamma[c] · g
// with S1 = Σ gamma·g and S2 = Σ gamma·g·xhat over the statistics group (norm_bwd_sums.wgsl).
struct P {
  planes: u32, C: u32, S: u32, tsLog2: u32,
  ny: u32, cg: u32, rn: u32, rc: u32,
  rs: u32, pc: u32, ps: u32, center: u32,
  eps: f32, nc: f32, groups: u32, _pad: u32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> vars: array<f32>;
@group(0) @binding(5) var<storage, read> gamma: array<f32>;
@group(0) @binding(6) var<storage, read> sums: array<f32>;
@group(0) @binding(7) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let s = (wid.x << p.tsLog2) + (lid & ((1u << p.tsLog2) - 1u));
  let plane = ((wid.y + wid.z * p.ny) << (8u - p.tsLog2)) + (lid >> p.tsLog2);
  if (s >= p.S || plane >= p.planes) { return; }
  let n = plane / p.C;
  let c = plane % p.C;
  var cr = c;
  if (p.cg > 1u) { cr = c / p.cg; }
  let r = n * p.rn + cr * p.rc + s * p.rs;
  let i = plane * p.S + s;
  let rstd = inverseSqrt(vars[r] + p.eps);
  var v = gamma[c * p.pc + s * p.ps] * g[i];
  if (p.center == 1u) {
    let xhat = (x[i] - mean[r]) * rstd;
    v -= (sums[r] + xhat * sums[p.groups + r]) / p.nc;
  }
  dx[i] = rstd * v;
}
