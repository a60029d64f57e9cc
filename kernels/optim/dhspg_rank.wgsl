// DHSPG partition, step 2 (once): top-K by score, ties broken by the lower group id; one
// thread per group counts the groups ranked before it (O(N^2), run once). Global scope ranks
// over all groups with K = k; per-ZIG scope (per_zig = 1) ranks within the group's ZIG with
// K = ceil(G * frac - 1e-3) for its G groups (zigShare in dhspg_plan.ts).
struct P { ng: u32, nx: u32, k: u32, per_zig: u32, frac: f32, _a: f32, _b: f32, _c: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> score: array<f32>;
@group(0) @binding(2) var<storage, read> gzig: array<u32>;
@group(0) @binding(3) var<storage, read> zmeta: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> top: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let j = id.x + id.y * p.nx * 256u;
  if (j >= p.ng) { return; }
  var lo = 0u;
  var hi = p.ng;
  var k = p.k;
  if (p.per_zig == 1u) {
    let z = zmeta[gzig[j]];
    lo = z.x;
    hi = z.x + z.y;
    k = min(z.y, u32(max(ceil(f32(z.y) * p.frac - 1e-3), 0.0)));
  }
  let sj = score[j];
  var rank = 0u;
  for (var i = lo; i < hi; i++) {
    let si = score[i];
    if (si > sj || (si == sj && i < j)) { rank += 1u; }
  }
  top[j] = select(0u, 1u, rank < k);
}
