// Weight gradient for kernels 3 wide with stride 1 and dilation 1 along x (any kh, stride and
// dilation along y): the fast path of wgrad.wgsl. Each thread owns 4 output channels x 4 input
// channels x the 3 taps of one kernel row ky, and walks the output rows
// [chunk*rows, (chunk+1)*rows). Along a row the 3 taps read a sliding window of the input, so
// every step loads 4 dy values and 4 new x values for 48 multiply-adds.
// struct P (the conv geometry): kernels/lib/conv_params.wgsl, prepended.
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;

// x at column ix of 4 channels (offsets 0, off.x, off.y, off.z from base), zero outside.
fn load4(base: u32, ix: i32, off: vec3<u32>) -> vec4<f32> {
  let ok = ix >= 0 && ix < i32(p.w);
  let i = base + u32(clamp(ix, 0, i32(p.w) - 1));
  return select(vec4<f32>(0.0), vec4<f32>(x[i], x[i + off.x], x[i + off.y], x[i + off.z]), ok);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.nx;
  if (i >= p.total) { return; }
  let ky = i % p.kh;
  var rest = i / p.kh;
  let rb = rest % p.r4;
  rest = rest / p.r4;
  let ob = rest % p.o4;
  rest = rest / p.o4;
  let g = rest % p.groups;
  let chunk = rest / p.groups;
  let hw = p.h * p.w;
  let hwo = p.ho * p.wo;
  // Clamped channels: lanes past O or R compute garbage that is never stored.
  let r0 = min(rb * 4u, p.r - 1u);
  let roff = vec3<u32>(min(rb * 4u + 1u, p.r - 1u) - r0, min(rb * 4u + 2u, p.r - 1u) - r0,
    min(rb * 4u + 3u, p.r - 1u) - r0) * hw;
  let o0 = g * p.o + min(ob * 4u, p.o - 1u);
  let o1 = g * p.o + min(ob * 4u + 1u, p.o - 1u);
  let o2 = g * p.o + min(ob * 4u + 2u, p.o - 1u);
  let o3 = g * p.o + min(ob * 4u + 3u, p.o - 1u);
  var acc: array<vec4<f32>, 12>;
  let rowEnd = min((chunk + 1u) * p.rows, p.n * p.ho);
  for (var row = chunk * p.rows; row < rowEnd; row++) {
    let n = row / p.ho;
    let oy = row % p.ho;
    let iy = i32(oy * p.sh + ky * p.dh) - p.ph;
    if (iy < 0 || iy >= i32(p.h)) { continue; }
    let db = n * p.cout * hwo + oy * p.wo;
    let xb = (n * p.cin + g * p.r + r0) * hw + u32(iy) * p.w;
    var xa: vec4<f32>;
    var xm = load4(xb, -p.pw, roff);
    var xc = load4(xb, 1 - p.pw, roff);
    for (var ox = 0u; ox < p.wo; ox++) {
      xa = xm;
      xm = xc;
      xc = load4(xb, i32(ox) + 2 - p.pw, roff);
      let d = db + ox;
      let d0 = dy[d + o0 * hwo];
      let d1 = dy[d + o1 * hwo];
      let d2 = dy[d + o2 * hwo];
      let d3 = dy[d + o3 * hwo];
      acc[0] += d0 * xa;
      acc[1] += d0 * xm;
      acc[2] += d0 * xc;
      acc[3] += d1 * xa;
      acc[4] += d1 * xm;
      acc[5] += d1 * xc;
      acc[6] += d2 * xa;
      acc[7] += d2 * xm;
      acc[8] += d2 * xc;
      acc[9] += d3 * xa;
      acc[10] += d3 * xm;
      acc[11] += d3 * xc;
    }
  }
  let kk = p.kh * 3u;
  let m = p.cout * p.r * kk;
  for (var c = 0u; c < 4u; c++) {
    if (ob * 4u + c >= p.o) { break; }
    for (var e = 0u; e < 4u; e++) {
      if (rb * 4u + e >= p.r) { break; }
      let at = chunk * m + ((g * p.o + ob * 4u + c) * p.r + rb * 4u + e) * kk + ky * 3u;
      part[at] = acc[c * 3u][e];
      part[at + 1u] = acc[c * 3u + 1u][e];
      part[at + 2u] = acc[c * 3u + 2u][e];
    }
  }
}
