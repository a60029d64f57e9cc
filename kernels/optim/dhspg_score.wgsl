// DHSPG partition, step 1 (once, one workgroup): saliency score of every group,
// score = 0.5 cos/|cos| + 0.5 r/|r| with cos = x.d / (max(|x|,1e-8) max(|d|,1e-8)) and
// r = 1 / (|x|/width + 1e-6), both L2-normalised over all groups (floor 1e-12).
struct P { ng: u32, _a: u32, _b: u32, _c: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> stats: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> gzig: array<u32>;
@group(0) @binding(3) var<storage, read> zmeta: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> score: array<f32>;

var<workgroup> sums: array<vec2<f32>, 256>;

fn parts(g: u32) -> vec2<f32> {
  let s = stats[g];
  let n = sqrt(s.x);
  let cosv = s.y / (max(n, 1e-8) * max(sqrt(s.z), 1e-8));
  let r = 1.0 / (n / f32(zmeta[gzig[g]].z) + 1e-6);
  return vec2<f32>(cosv, r);
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  var acc = vec2<f32>(0.0);
  for (var g = lid; g < p.ng; g += 256u) {
    let c = parts(g);
    acc += c * c;
  }
  sums[lid] = acc;
  workgroupBarrier();
  for (var h = 128u; h > 0u; h >>= 1u) {
    if (lid < h) { sums[lid] += sums[lid + h]; }
    workgroupBarrier();
  }
  let norm = max(sqrt(sums[0]), vec2<f32>(1e-12));
  for (var g = lid; g < p.ng; g += 256u) {
    let c = parts(g) / norm;
    score[g] = 0.5 * c.x + 0.5 * c.y;
  }
}
