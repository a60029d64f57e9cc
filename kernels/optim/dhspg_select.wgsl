// DHSPG partition, step 3 (once): per ZIG with G groups and divisor q, the n' lowest-score
// groups are kept unpenalised (G_np, mask 0) and the rest form G_p (mask 1), where n = groups
// outside the global top-K and n' = min(max(round_half_even(n/q), 1) q, G); G <= q keeps all.
struct P { ng: u32, nx: u32, q: u32, _a: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> score: array<f32>;
@group(0) @binding(2) var<storage, read> top: array<u32>;
@group(0) @binding(3) var<storage, read> gzig: array<u32>;
@group(0) @binding(4) var<storage, read> zmeta: array<vec4<u32>>;
@group(0) @binding(5) var<storage, read_write> mask: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let j = id.x + id.y * p.nx * 256u;
  if (j >= p.ng) { return; }
  let z = zmeta[gzig[j]];
  let base = z.x;
  let size = z.y;
  if (size <= p.q) { mask[j] = 0u; return; }
  var outside = 0u;
  // asc: groups of this ZIG after j in the descending order (score, then lower id first).
  var asc = 0u;
  let sj = score[j];
  for (var i = base; i < base + size; i++) {
    if (top[i] == 0u) { outside += 1u; }
    let si = score[i];
    if (sj > si || (sj == si && j < i)) { asc += 1u; }
  }
  var r = outside / p.q;
  let rem = outside - r * p.q;
  if (2u * rem > p.q || (2u * rem == p.q && (r & 1u) == 1u)) { r += 1u; }
  let keep = min(max(r, 1u) * p.q, size);
  mask[j] = select(1u, 0u, asc < keep);
}
