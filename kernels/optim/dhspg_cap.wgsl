// DHSPG projection cap (only dispatched when upperGroupSparsity < 1), one thread per ZIG:
// with M = |G_p rows|, b = zero G_p rows and P = projection candidates, no row is projected
// when b >= upper*M; when b + |P| > upper*M only the allowance floor(upper*M) - b of P (the
// lowest group ids) is projected. (OTOv2 zeroes the excess count at random instead.)
struct P { nz: u32, _a: u32, _b: u32, _c: u32, upper: f32, _d: f32, _e: f32, _f: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> zmeta: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> stats: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> mask: array<u32>;
@group(0) @binding(4) var<storage, read_write> gstate: array<vec4<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let zi = id.x;
  if (zi >= p.nz) { return; }
  let z = zmeta[zi];
  var m = 0u;
  var b = 0u;
  var np = 0u;
  for (var g = z.x; g < z.x + z.y; g++) {
    if (mask[g] != 1u) { continue; }
    m += 1u;
    if (stats[g].w == 0.0) { b += 1u; }
    if (gstate[g].w > 0.5) { np += 1u; }
  }
  if (m == 0u) { return; }
  let lim = p.upper * f32(m);
  var allow = np;
  if (f32(b) >= lim) {
    allow = 0u;
  } else if (f32(b + np) > lim) {
    allow = u32(max(0.0, floor(lim + 1e-5) - f32(b)));
  }
  for (var g = z.x; g < z.x + z.y; g++) {
    if (mask[g] == 1u && gstate[g].w > 0.5) {
      if (allow > 0u) { allow -= 1u; } else { gstate[g].w = 0.0; }
    }
  }
}
