// Batch norm running statistics, in place, one thread per channel (PyTorch semantics):
//   running_mean = (1 - m)·running_mean + m·mean
//   running_var  = (1 - m)·running_var  + m·var·M/(M-1)   (unbiased batch variance)
struct P { c: u32, momentum: f32, unbias: f32, _pad: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> mean: array<f32>;
@group(0) @binding(2) var<storage, read> vars: array<f32>;
@group(0) @binding(3) var<storage, read_write> rmean: array<f32>;
@group(0) @binding(4) var<storage, read_write> rvar: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= p.c) { return; }
  rmean[c] = (1.0 - p.momentum) * rmean[c] + p.momentum * mean[c];
  rvar[c] = (1.0 - p.momentum) * rvar[c] + p.momentum * vars[c] * p.unbias;
}
