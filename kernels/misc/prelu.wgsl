// PReLU: y = x for x > 0, else slope[c]·x with c = (i / inner) % channels (channels = 1 for a
// shared slope).
struct P { n: u32, nx: u32, inner: u32, channels: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> slope: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.nx * 256u;
  if (i >= p.n) { return; }
  let v = x[i];
  y[i] = select(slope[(i / p.inner) % p.channels] * v, v, v > 0.0);
}
