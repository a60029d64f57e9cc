// DHSPG phase 2: one workgroup per group reduces, over the group's CSR element list (all slices
// of all its parameters), |x|^2, x.d, |d|^2 and max|x| (exact zero test). No atomics: each
// group's sums live in one workgroup.
struct P { ng: u32, nx: u32, _a: u32, _b: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> d: array<f32>;
@group(0) @binding(3) var<storage, read> start: array<u32>;
@group(0) @binding(4) var<storage, read> idx: array<u32>;
@group(0) @binding(5) var<storage, read_write> stats: array<vec4<f32>>;

var<workgroup> acc: array<vec4<f32>, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = wg.x + wg.y * p.nx;
  if (g >= p.ng) { return; }
  var s = vec4<f32>(0.0);
  let end = start[g + 1u];
  for (var k = start[g] + lid; k < end; k += 64u) {
    let e = idx[k];
    let xv = x[e];
    let dv = d[e];
    s += vec4<f32>(xv * xv, xv * dv, dv * dv, 0.0);
    s.w = max(s.w, abs(xv));
  }
  acc[lid] = s;
  workgroupBarrier();
  for (var h = 32u; h > 0u; h >>= 1u) {
    if (lid < h) {
      let o = acc[lid + h];
      let a = acc[lid];
      acc[lid] = vec4<f32>(a.xyz + o.xyz, max(a.w, o.w));
    }
    workgroupBarrier();
  }
  if (lid == 0u) { stats[g] = acc[0]; }
}
