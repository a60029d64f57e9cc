// out = a (op) b with NumPy broadcasting: strides of broadcast axes are 0. Shapes up to rank 8.
// The MAP part (src/ops/elementwise.ts) is one of: same shapes, one element per thread; same
// shapes and a length divisible by 4, one vec4 per thread (buffers bound as vec4 arrays, f per
// component: a quarter of the loads on llvmpipe); broadcasting, via broadcast_index.
struct P {
  n: u32, nx: u32, rank: u32, _pad: u32,
  shape: array<vec4<u32>, 2>,
  sa: array<vec4<u32>, 2>,
  sb: array<vec4<u32>, 2>,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> as_: array<{{VT}}>;
@group(0) @binding(2) var<storage, read> bs: array<{{VT}}>;
@group(0) @binding(3) var<storage, read_write> out: array<{{VTO}}>;

fn f(a: {{T}}, b: {{T}}) -> {{TO}} {
  {{EXPR}}
}

// Offsets of output element i in a and b (broadcast strides; one division per axis).
fn broadcast_index(i: u32) -> vec2<u32> {
  var rem = i;
  var ia = 0u;
  var ib = 0u;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let k = u32(d);
    let s = p.shape[k / 4u][k % 4u];
    let c = rem % s;
    rem = rem / s;
    ia += c * p.sa[k / 4u][k % 4u];
    ib += c * p.sb[k / 4u][k % 4u];
  }
  return vec2<u32>(ia, ib);
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.nx * 256u;
  if (i >= p.n) { return; }
{{MAP}}
}
