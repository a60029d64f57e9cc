// SGD with momentum (PyTorch's formulas), in place on the parameter and the momentum buffer:
//   d = g + wd*p;  buf = first ? d : momentum*buf + (1-dampening)*d
//   p -= lr * (nesterov ? d + momentum*buf : buf)
struct P {
  n: u32, nx: u32, lr: f32, wd: f32,
  momentum: f32, dampening: f32, nesterov: u32, first: u32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> buf: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.nx * 256u;
  if (i >= p.n) { return; }
  let w = param[i];
  let d = grad[i] + p.wd * w;
  var b = d;
  if (p.first == 0u) { b = p.momentum * buf[i] + (1.0 - p.dampening) * d; }
  buf[i] = b;
  var step = b;
  if (p.nesterov != 0u) { step = d + p.momentum * b; }
  param[i] = w - p.lr * step;
}
