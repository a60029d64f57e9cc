// DHSPG phase 1, elementwise over the flat parameter space (one 256-element chunk per
// workgroup; a chunk never straddles two parameters): gradient variant of the base optimizer
// (SGD with momentum / Adam) written over the gradient in `d`, and the complete plain update of
// elements outside every prunable group (gid == NONE). Group elements keep x for phase 5.
struct P {
  n: u32, nx: u32, mode: u32, flags: u32,
  lr: f32, wd: f32, b1: f32, b2: f32,
  damp: f32, bc1: f32, bc2: f32, eps: f32,
}
// flags: 1 decoupled decay (adamw), 2 l1_norm decay (group rows skip the L2 term),
//        4 sgd momentum buffer. chunk: 1 parameter has a gradient, 2 its first one.
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> d: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read> gid: array<u32>;
@group(0) @binding(6) var<storage, read> chunk: array<u32>;

const NONE: u32 = 0xffffffffu;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let w = wg.x + wg.y * p.nx;
  let i = w * 256u + lid;
  if (i >= p.n) { return; }
  let c = chunk[w];
  if ((c & 1u) == 0u) { d[i] = 0.0; return; }
  let xv = x[i];
  let in_group = gid[i] != NONE;
  var g = d[i];
  if ((p.flags & 1u) == 0u && !(in_group && (p.flags & 2u) != 0u)) { g = g + p.wd * xv; }
  var dir = g;
  if (p.mode == 0u) {
    if ((p.flags & 4u) != 0u) {
      if ((c & 2u) == 0u) { dir = p.b1 * m[i] + (1.0 - p.damp) * g; }
      m[i] = dir;
    }
  } else {
    let mm = p.b1 * m[i] + (1.0 - p.b1) * g;
    let vv = p.b2 * v[i] + (1.0 - p.b2) * g * g;
    m[i] = mm;
    v[i] = vv;
    dir = (mm / p.bc1) / (sqrt(vv / p.bc2) + p.eps);
  }
  d[i] = dir;
  if (!in_group) {
    var xn = xv;
    if ((p.flags & 1u) != 0u) { xn = xn - p.lr * p.wd * xv; }
    x[i] = xn - p.lr * dir;
  }
}
