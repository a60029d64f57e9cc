// Global average pooling. `main`: one workgroup of 64 threads per (n, c) plane, strided partial
// sums then a tree reduction in workgroup memory (large planes). `per_thread`: one thread per
// plane (small planes: a workgroup and its barriers per 4x4 plane cost far more than the sum).
struct P { planes: u32, nx: u32, len: u32, _pad: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

var<workgroup> part: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let plane = wid.x + wid.y * p.nx;
  var acc = 0.0;
  if (plane < p.planes) {
    let base = plane * p.len;
    for (var j = lid; j < p.len; j += 64u) { acc += x[base + j]; }
  }
  part[lid] = acc;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (lid < s) { part[lid] += part[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u && plane < p.planes) { y[plane] = part[0] / f32(p.len); }
}

@compute @workgroup_size(64)
fn per_thread(@builtin(global_invocation_id) gid: vec3<u32>) {
  let plane = gid.x + gid.y * p.nx * 64u;
  if (plane >= p.planes) { return; }
  let base = plane * p.len;
  var acc = 0.0;
  for (var j = 0u; j < p.len; j++) { acc += x[base + j]; }
  y[plane] = acc / f32(p.len);
}
