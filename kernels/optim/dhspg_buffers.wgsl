// DHSPG, after the update: a buffer element that a group's zero value depends on (the running
// mean of a batch norm without affine parameters) becomes 0 when its group is a fixed zero or
// was projected this step, so the group compresses. One thread per buffer element.
struct P { n: u32, nx: u32, _a: u32, _b: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> b: array<f32>;
@group(0) @binding(2) var<storage, read> gid: array<u32>;
@group(0) @binding(3) var<storage, read> gstate: array<vec4<f32>>;

const NONE: u32 = 0xffffffffu;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wg.x + wg.y * p.nx) * 256u + lid;
  if (i >= p.n) { return; }
  let g = gid[i];
  if (g == NONE) { return; }
  let st = gstate[g];
  if (st.y > 0.5 || st.w > 0.5) { b[i] = 0.0; }
}
