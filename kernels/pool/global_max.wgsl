// Global max pooling. `main`: one workgroup of 64 threads per (n, c) plane, strided partial
// maxima then a tree reduction in workgroup memory (large planes). `per_thread`: one thread per
// plane (small planes). Every lane starts from the plane's first element, so an idle lane never
// contributes a value that is not in the plane.
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
    acc = x[base];
    for (var j = lid; j < p.len; j += 64u) { acc = max(acc, x[base + j]); }
  }
  part[lid] = acc;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (lid < s) { part[lid] = max(part[lid], part[lid + s]); }
    workgroupBarrier();
  }
  if (lid == 0u && plane < p.planes) { y[plane] = part[0]; }
}

@compute @workgroup_size(64)
fn per_thread(@builtin(global_invocation_id) gid: vec3<u32>) {
  let plane = gid.x + gid.y * p.nx * 64u;
  if (plane >= p.planes) { return; }
  let base = plane * p.len;
  var acc = x[base];
  for (var j = 1u; j < p.len; j++) { acc = max(acc, x[base + j]); }
  y[plane] = acc;
}
