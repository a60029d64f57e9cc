// Index of the largest value along one axis (first one on ties). The tensor is viewed as
// [outer, len, inner]; one thread per (outer, inner) pair.
struct P { n: u32, nx: u32, len: u32, inner: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<i32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.x + gid.y * p.nx * 64u;
  if (t >= p.n) { return; }
  let outer = t / p.inner;
  let inner = t % p.inner;
  let base = outer * p.len * p.inner + inner;
  var best = src[base];
  var arg = 0u;
  for (var j = 1u; j < p.len; j++) {
    let v = src[base + j * p.inner];
    if (v > best) { best = v; arg = j; }
  }
  dst[t] = i32(arg);
}
