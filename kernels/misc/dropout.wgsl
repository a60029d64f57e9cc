// Dropout with a counter-based mask: element i is kept when hash(hash(i) ^ key) >= threshold,
// key = hash(seed) (computed on the host). The cpu reference uses the same hash, so both
// backends draw the same mask. Kept elements are scaled by 1/(1-p) (scale 0 when p = 1).
struct P { n: u32, nx: u32, key: u32, threshold: u32, scale: f32, _a: u32, _b: u32, _c: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

// "lowbias32" integer hash (Chris Wellons): a bijection on u32 with good avalanche.
fn hash(v: u32) -> u32 {
  var h = v;
  h ^= h >> 16u;
  h *= 0x7feb352du;
  h ^= h >> 15u;
  h *= 0x846ca68bu;
  h ^= h >> 16u;
  return h;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.nx * 256u;
  if (i >= p.n) { return; }
  let keep = hash(hash(i) ^ p.key) >= p.threshold;
  y[i] = select(0.0, x[i] * p.scale, keep);
}
