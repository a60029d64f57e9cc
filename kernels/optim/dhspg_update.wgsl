// DHSPG phase 5, elementwise over the flat space: group elements take the trial point minus
// the per-group terms, x <- x - lr d - coef_g x, or exactly 0 when the group is a fixed zero or
// was projected. Elements outside every group were finished in phase 1.
struct P { n: u32, nx: u32, _a: u32, _b: u32, lr: f32, _c: f32, _d: f32, _e: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> d: array<f32>;
@group(0) @binding(3) var<storage, read> gid: array<u32>;
@group(0) @binding(4) var<storage, read> gstate: array<vec4<f32>>;

const NONE: u32 = 0xffffffffu;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wg.x + wg.y * p.nx) * 256u + lid;
  if (i >= p.n) { return; }
  let g = gid[i];
  if (g == NONE) { return; }
  let st = gstate[g];
  if (st.y > 0.5 || st.w > 0.5) {
    x[i] = 0.0;
  } else {
    let xv = x[i];
    x[i] = xv - p.lr * d[i] - st.x * xv;
  }
}
