// Gradient of gather: dst[o, d, k] = sum over j with idx[j] == d of g[o, j, k]. One thread per
// output element loops over the indices, so repeated indices need no atomics and the sum order is
// fixed (deterministic). Index normalisation matches gather.wgsl.
struct P { n: u32, nx: u32, dim: u32, count: u32, inner: u32, _a: u32, _b: u32, _c: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<i32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

fn fix(v: i32) -> u32 {
  let w = select(v, v + i32(p.dim), v < 0);
  return u32(clamp(w, 0, i32(p.dim) - 1));
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.nx * 256u;
  if (i >= p.n) { return; }
  let k = i % p.inner;
  let d = (i / p.inner) % p.dim;
  let o = i / (p.inner * p.dim);
  var acc = 0.0;
  for (var j = 0u; j < p.count; j++) {
    if (fix(idx[j]) == d) { acc += g[(o * p.count + j) * p.inner + k]; }
  }
  dst[i] = acc;
}
