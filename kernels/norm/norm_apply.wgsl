// y = (x - mean[r]) / sqrt(var[r] + eps) · gamma[c] + beta[c], one thread per element.
// The input is viewed as [planes = N·C, S]; a workgroup covers 2^tsLog2 positions of
// 256 >> tsLog2 planes (so [N, C] inputs with S = 1 still fill workgroups). With n = plane / C,
// c = plane % C: statistics group r = n·rn + (c / cg)·rc + s·rs, parameter c·pc + s·ps.
struct P {
  planes: u32, C: u32, S: u32, tsLog2: u32,
  ny: u32, cg: u32, rn: u32, rc: u32,
  rs: u32, pc: u32, ps: u32, center: u32,
  eps: f32, nc: f32, groups: u32, _pad: u32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read> vars: array<f32>;
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read> beta: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;

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
  let k = c * p.pc + s * p.ps;
  let i = plane * p.S + s;
  y[i] = (x[i] - mean[r]) * inverseSqrt(vars[r] + p.eps) * gamma[k] + beta[k];
}
