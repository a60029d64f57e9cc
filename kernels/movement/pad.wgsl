// Embed a tensor into a larger one filled with a constant: for every output coordinate c and
// axis d, j = c - start_d must be a multiple of step_d with 0 <= j / step_d < len_d, else the
// output is `value`. Constant padding (start = pad before, step 1) and the gradient of a strided
// slice (start, step of the slice, possibly negative) are both this one gather, so no output is
// written twice and no zero fill is needed. {{T}} is the element type; `bits` is the fill value's
// bit pattern.
struct P {
  n: u32, nx: u32, rank: u32, bits: u32,
  shape: array<vec4<u32>, 2>,  // output shape
  start: array<vec4<i32>, 2>,
  step: array<vec4<i32>, 2>,
  len: array<vec4<i32>, 2>,    // source shape
  sstr: array<vec4<u32>, 2>,   // source strides
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> src: array<{{T}}>;
@group(0) @binding(2) var<storage, read_write> dst: array<{{T}}>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.nx * 256u;
  if (i >= p.n) { return; }
  var rem = i;
  var at = 0u;
  var inside = true;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let k = u32(d);
    let s = p.shape[k / 4u][k % 4u];
    let c = rem % s;
    rem = rem / s;
    let st = p.step[k / 4u][k % 4u];
    let j = i32(c) - p.start[k / 4u][k % 4u];
    let q = j / st;
    if (j != q * st || q < 0 || q >= p.len[k / 4u][k % 4u]) {
      inside = false;
    } else {
      at += u32(q) * p.sstr[k / 4u][k % 4u];
    }
  }
  if (inside) {
    dst[i] = src[at];
  } else {
    dst[i] = bitcast<{{T}}>(p.bits);
  }
}
