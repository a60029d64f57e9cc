// Softmax ({{LOG}} = false) or log-softmax ({{LOG}} = true) along one axis, numerically stable
// (the row maximum is subtracted before exp). The tensor is viewed as [outer, len, inner]; one
// workgroup of 64 threads handles one row (outer, inner): max, then sum of exp, then the output,
// each a strided loop plus a tree reduction in workgroup memory.
struct P { rows: u32, nx: u32, len: u32, inner: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

// reduce(v, lid, is_max): kernels/lib/workgroup_reduce.wgsl, prepended.

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * p.nx;
  if (row >= p.rows) { return; }
  let base = (row / p.inner) * p.len * p.inner + row % p.inner;
  var m = -3.40282347e+38;
  for (var j = lid; j < p.len; j += 64u) { m = max(m, src[base + j * p.inner]); }
  m = reduce(m, lid, true);
  var s = 0.0;
  for (var j = lid; j < p.len; j += 64u) { s += exp(src[base + j * p.inner] - m); }
  s = reduce(s, lid, false);
  let ls = log(s);
  for (var j = lid; j < p.len; j += 64u) {
    let at = base + j * p.inner;
    if ({{LOG}}) {
      dst[at] = src[at] - m - ls;
    } else {
      dst[at] = exp(src[at] - m) / s;
    }
  }
}
