// dx of a normalisation, one thread per element or vec4 of elements (T, as in norm_apply.wgsl;
// struct P and elem(): kernels/lib/norm_elem.wgsl, prepended):
//   center = 1 (batch statistics): dx = rstd · (gamma[k]·g - (S1[r] + xhat·S2[r]) / nc)
//   center = 0 (fixed statistics, eval batch norm): dx = rstd · gamma[k] · g
// with S1 = Σ gamma·g and S2 = Σ gamma·g·xhat over the statistics group (norm_bwd_sums.wgsl).
//   center = 2 (batch norm, where gamma is constant over each statistics group): the sums are
//   Σ g and Σ g·xhat (also dbeta and dgamma) and gamma[k] scales them here.
@group(0) @binding(1) var<storage, read> x: array<{{T}}>;
@group(0) @binding(2) var<storage, read> g: array<{{T}}>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> vars: array<f32>;
@group(0) @binding(5) var<storage, read> gamma: array<f32>;
@group(0) @binding(6) var<storage, read> sums: array<f32>;
@group(0) @binding(7) var<storage, read_write> dx: array<{{T}}>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let e = elem(wid, lid);
  if (!e.ok) { return; }
  let rstd = inverseSqrt(vars[e.r] + p.eps);
  var v = gamma[e.k] * g[e.i];
  if (p.center == 1u) {
    let xhat = (x[e.i] - mean[e.r]) * rstd;
    v -= (sums[e.r] + xhat * sums[p.groups + e.r]) / p.nc;
  } else if (p.center == 2u) {
    let xhat = (x[e.i] - mean[e.r]) * rstd;
    v -= gamma[e.k] * (sums[e.r] + xhat * sums[p.groups + e.r]) / p.nc;
  }
  dx[e.i] = rstd * v;
}
