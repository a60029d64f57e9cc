// SGD without momentum, in place: p -= lr * (g + wd * p).
struct P { n: u32, nx: u32, lr: f32, wd: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.nx * 256u;
  if (i >= p.n) { return; }
  let w = param[i];
  param[i] = w - p.lr * (grad[i] + p.wd * w);
}
