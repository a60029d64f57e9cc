// DHSPG phase 3, one workgroup: zero groups (max|x| == 0), omega = sum of group norms, whether
// the target sparsity is reached (zeros >= need), |G_p|, and the lambdas / projections of the
// last decide phase. The result is a 16-float summary read lazily by stats(). summary[10]
// remembers 1 + `done` (steps completed) the first time the target is met, and is kept after.
struct P { ng: u32, need: u32, done: u32, _b: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> stats: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> mask: array<u32>;
@group(0) @binding(3) var<storage, read> gstate: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> summary: array<f32>;

var<workgroup> cnt: array<vec4<u32>, 256>;
var<workgroup> fs: array<vec4<f32>, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  var c = vec4<u32>(0u); // zeros, |G_p|, lambdas > 0, projected
  var f = vec4<f32>(0.0, 3.4e38, 0.0, 0.0); // omega, lambda min, max, sum
  for (var g = lid; g < p.ng; g += 256u) {
    let s = stats[g];
    if (s.w == 0.0) { c.x += 1u; }
    f.x += sqrt(s.x);
    if (mask[g] == 1u) { c.y += 1u; }
    let st = gstate[g];
    if (st.z > 0.0) {
      c.z += 1u;
      f.y = min(f.y, st.z);
      f.z = max(f.z, st.z);
      f.w += st.z;
    }
    if (st.w > 0.5) { c.w += 1u; }
  }
  cnt[lid] = c;
  fs[lid] = f;
  workgroupBarrier();
  for (var h = 128u; h > 0u; h >>= 1u) {
    if (lid < h) {
      cnt[lid] += cnt[lid + h];
      let a = fs[lid];
      let b = fs[lid + h];
      fs[lid] = vec4<f32>(a.x + b.x, min(a.y, b.y), max(a.z, b.z), a.w + b.w);
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let k = cnt[0];
    let t = fs[0];
    summary[0] = f32(k.x);
    summary[1] = f32(p.ng);
    summary[2] = t.x;
    summary[3] = select(0.0, 1.0, k.x >= p.need);
    if (k.x >= p.need && summary[10] == 0.0) { summary[10] = f32(p.done + 1u); }
    summary[4] = f32(k.y);
    summary[5] = select(0.0, t.y, k.z > 0u);
    summary[6] = t.z;
    summary[7] = select(0.0, t.w / f32(max(k.z, 1u)), k.z > 0u);
    summary[8] = f32(k.w);
    summary[9] = f32(k.z);
  }
}
