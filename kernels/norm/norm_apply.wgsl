// y = (x - mean[r]) / sqrt(var[r] + eps) · gamma[k] + beta[k], one thread per element (T = f32)
// or per 4 consecutive elements sharing r and k (T = vec4<f32>); struct P and elem() (element
// i, statistics group r, parameter k) are kernels/lib/norm_elem.wgsl, prepended.
@group(0) @binding(1) var<storage, read> x: array<{{T}}>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read> vars: array<f32>;
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read> beta: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<{{T}}>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let e = elem(wid, lid);
  if (!e.ok) { return; }
  y[e.i] = (x[e.i] - mean[e.r]) * inverseSqrt(vars[e.r] + p.eps) * gamma[e.k] + beta[e.k];
}
