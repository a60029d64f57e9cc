// Adam / AdamW step (PyTorch's formulas), in place on the parameter and both moments:
//   AdamW: p *= 1 - lr*wd      Adam: g += wd*p
//   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g²
//   p -= stepSize * m / (sqrt(v) * invSqrtBc2 + eps),  stepSize = lr / (1 - b1^t)
struct P {
  n: u32, nx: u32, lr: f32, wd: f32,
  beta1: f32, beta2: f32, eps: f32, stepSize: f32,
  invSqrtBc2: f32, decoupled: u32, _pad0: u32, _pad1: u32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.nx * 256u;
  if (i >= p.n) { return; }
  var w = param[i];
  var g = grad[i];
  if (p.decoupled != 0u) { w = w * (1.0 - p.lr * p.wd); } else { g = g + p.wd * w; }
  let m1 = p.beta1 * m[i] + (1.0 - p.beta1) * g;
  let v1 = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
  m[i] = m1;
  v[i] = v1;
  param[i] = w - p.stepSize * m1 / (sqrt(v1) * p.invSqrtBc2 + p.eps);
}
