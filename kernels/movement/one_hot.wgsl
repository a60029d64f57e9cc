// out[r, c] = 1 where labels[r] == c, else 0. A label outside [0, classes) gives a zero row.
struct P { n: u32, nx: u32, classes: u32, _pad: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.nx * 256u;
  if (i >= p.n) { return; }
  let c = i % p.classes;
  dst[i] = select(0.0, 1.0, labels[i / p.classes] == i32(c));
}
