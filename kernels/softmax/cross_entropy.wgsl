// Per-row cross-entropy of logits [rows, classes] against integer labels, with label smoothing
// eps: loss = logsumexp(x) - ((1 - eps) * x[label] + eps / classes * sum(x)). One workgroup of 64
// threads per row. Labels outside [0, classes) are clamped (never an out-of-bounds read); the
// cpu reference rejects them with an error naming the label.
struct P { rows: u32, nx: u32, classes: u32, _pad: u32, eps: f32, _a: u32, _b: u32, _c: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;

var<workgroup> red: array<vec2<f32>, 64>;

fn reduce_max(v: f32, lid: u32) -> f32 {
  red[lid] = vec2<f32>(v, 0.0);
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid].x = max(red[lid].x, red[lid + s].x); }
    workgroupBarrier();
  }
  let r = red[0].x;
  workgroupBarrier();
  return r;
}

fn reduce_sum2(v: vec2<f32>, lid: u32) -> vec2<f32> {
  red[lid] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * p.nx;
  if (row >= p.rows) { return; }
  let base = row * p.classes;
  var m = -3.40282347e+38;
  for (var j = lid; j < p.classes; j += 64u) { m = max(m, logits[base + j]); }
  m = reduce_max(m, lid);
  var acc = vec2<f32>(0.0, 0.0);
  for (var j = lid; j < p.classes; j += 64u) {
    let v = logits[base + j];
    acc += vec2<f32>(exp(v - m), v);
  }
  acc = reduce_sum2(acc, lid);
  if (lid == 0u) {
    let label = u32(clamp(labels[row], 0, i32(p.classes) - 1));
    let tgt = (1.0 - p.eps) * logits[base + label] + p.eps / f32(p.classes) * acc.y;
    loss[row] = m + log(acc.x) - tgt;
  }
}
