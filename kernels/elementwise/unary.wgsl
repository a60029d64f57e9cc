// y = f(x) elementwise. T is the element type; f is specialised per op (its EXPR uses `x`,
// `p.alpha`, `p.beta`). When the length is a multiple of 4 each thread maps a vec4 (the
// buffers are bound as arrays of vec4, f still runs per component): a quarter of the loads and
// stores, each a per-lane loop on llvmpipe. p.n counts threads' items (elements or vec4s).
struct P { n: u32, nx: u32, alpha: f32, beta: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> xs: array<{{VT}}>;
@group(0) @binding(2) var<storage, read_write> ys: array<{{VTO}}>;

const PI: f32 = 3.141592653589793;

// erf with |error| < 1.5e-7 (Abramowitz & Stegun 7.1.26), for exact-form GELU.
fn erf_approx(v: f32) -> f32 {
  let s = sign(v);
  let a = abs(v);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t +
    0.254829592) * t * exp(-a * a);
  return s * y;
}

fn f(x: {{T}}) -> {{TO}} {
  {{EXPR}}
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.nx * 256u;
  if (i >= p.n) { return; }
{{MAP}}
}
