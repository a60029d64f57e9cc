// out[o, j, k] = src[o, idx[j], k]: src viewed as [outer, dim, inner], the indices flattened to
// [count]. Negative indices count from the end; out-of-range ones are clamped so a bad index can
// never read outside the buffer (the cpu reference throws on them instead). {{T}}: element type.
struct P { n: u32, nx: u32, dim: u32, count: u32, inner: u32, _a: u32, _b: u32, _c: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> src: array<{{T}}>;
@group(0) @binding(2) var<storage, read> idx: array<i32>;
@group(0) @binding(3) var<storage, read_write> dst: array<{{T}}>;

fn fix(v: i32) -> u32 {
  let w = select(v, v + i32(p.dim), v < 0);
  return u32(clamp(w, 0, i32(p.dim) - 1));
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.nx * 256u;
  if (i >= p.n) { return; }
  let k = i % p.inner;
  let j = (i / p.inner) % p.count;
  let o = i / (p.inner * p.count);
  dst[i] = src[(o * p.dim + fix(idx[j])) * p.inner + k];
}
