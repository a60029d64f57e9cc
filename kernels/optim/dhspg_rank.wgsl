// DHSPG partition, step 2 (once): global top-K by score, ties broken by the lower group id.
// One thread per group counts the groups ranked before it (O(N^2), run once).
struct P { ng: u32, nx: u32, k: u32, _a: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> score: array<f32>;
@group(0) @binding(2) var<storage, read_write> top: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let j = id.x + id.y * p.nx * 256u;
  if (j >= p.ng) { return; }
  let sj = score[j];
  var rank = 0u;
  for (var i = 0u; i < p.ng; i++) {
    let si = score[i];
    if (si > sj || (si == sj && i < j)) { rank += 1u; }
  }
  top[j] = select(0u, 1u, rank < p.k);
}
