// Gradient of cross-entropy w.r.t. the logits: (softmax(x) - q) * g[row * gstride] * scale, q the
// smoothed one-hot target ((1 - eps) at the label plus eps / classes everywhere). gstride is 0
// for a reduced (scalar) loss and 1 for per-row losses; scale is 1/rows for the mean. Labels are
// clamped exactly as in cross_entropy.wgsl.
struct P { rows: u32, nx: u32, classes: u32, gstride: u32, eps: f32, scale: f32, _a: u32, _b: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

// reduce(v, lid, is_max): kernels/lib/workgroup_reduce.wgsl, prepended.

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * p.nx;
  if (row >= p.rows) { return; }
  let base = row * p.classes;
  var m = -3.40282347e+38;
  for (var j = lid; j < p.classes; j += 64u) { m = max(m, logits[base + j]); }
  m = reduce(m, lid, true);
  var s = 0.0;
  for (var j = lid; j < p.classes; j += 64u) { s += exp(logits[base + j] - m); }
  s = reduce(s, lid, false);
  let label = u32(clamp(labels[row], 0, i32(p.classes) - 1));
  let gs = g[row * p.gstride] * p.scale;
  let off = p.eps / f32(p.classes);
  for (var j = lid; j < p.classes; j += 64u) {
    let q = select(off, off + 1.0 - p.eps, j == label);
    dx[base + j] = (exp(logits[base + j] - m) / s - q) * gs;
  }
}
