// Transposed 2-D convolution (stride > 1), NCHW, grouped: the gather form of
// y[n, g*O+o, iy*sh-ph+ky*dh, ix*sw-pw+kx*dw] += x[n, g*R+r, iy, ix] * w[g*R+r, o, ky, kx].
// An output pixel ox receives tap kx only when ox+pw-kx*dw is a multiple of sw, so each thread
// takes PX outputs of one residue class (ox = rx + sw*(q0+j)): the tap test is the same for all
// of them and their inputs are consecutive. Threads are ordered phase-major ((ry, rx) slowest),
// so the lanes running together share their tap set and never diverge on it. 4 output channels
// per thread (packed weight vec4). `rows` holds the rows per phase, ceil(ho / sh).
// struct P (the conv geometry): kernels/lib/conv_params.wgsl, prepended.
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wp: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

const PX: u32 = 8u;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.z * p.nx;
  if (i >= p.total) { return; }
  let qb = i % p.nxb;
  var rest = i / p.nxb;
  let a = rest % p.rows;
  rest = rest / p.rows;
  let n = rest % p.n;
  let phase = rest / p.n;
  let ry = phase / p.sw;
  let rx = phase % p.sw;
  let oy = ry + p.sh * a;
  if (oy >= p.ho) { return; }
  let g = gid.y / p.o4;
  let ob = gid.y % p.o4;
  let q0 = qb * PX;
  let kk = p.kh * p.kw;
  let shi = i32(p.sh);
  let swi = i32(p.sw);
  let wi = i32(p.w);
  let hw = p.h * p.w;
  var acc: array<vec4<f32>, PX>;
  // Taps outside, channels inside: the tap tests and index divisions run once per tap, the
  // channel loop only loads and multiplies.
  for (var ky = 0u; ky < p.kh; ky++) {
    let ty = i32(ry) + p.ph - i32(ky * p.dh);
    if (ty % shi != 0) { continue; }
    let iy = ty / shi + i32(a);
    if (iy < 0 || iy >= i32(p.h)) { continue; }
    for (var kx = 0u; kx < p.kw; kx++) {
      let tx = i32(rx) + p.pw - i32(kx * p.dw);
      if (tx % swi != 0) { continue; }
      let ixb = tx / swi + i32(q0);
      var off: array<u32, PX>;
      var ok: array<f32, PX>;
      for (var j = 0u; j < PX; j++) {
        let ix = ixb + i32(j);
        off[j] = u32(iy) * p.w + u32(clamp(ix, 0, wi - 1));
        ok[j] = select(0.0, 1.0, ix >= 0 && ix < wi);
      }
      var xb = (n * p.cin + g * p.r) * hw;
      var wb = g * p.r * kk * p.o4 + ob + (ky * p.kw + kx) * p.o4;
      for (var r = 0u; r < p.r; r++) {
        let wv = wp[wb];
        for (var j = 0u; j < PX; j++) { acc[j] += (x[xb + off[j]] * ok[j]) * wv; }
        xb += hw;
        wb += kk * p.o4;
      }
    }
  }
  let oc0 = g * p.o + ob * 4u;
  for (var c = 0u; c < 4u; c++) {
    if (ob * 4u + c >= p.o) { break; }
    var bv = 0.0;
    if (p.bias != 0u) { bv = bias[oc0 + c]; }
    let yb = ((n * p.cout + oc0 + c) * p.ho + oy) * p.wo;
    for (var j = 0u; j < PX; j++) {
      let ox = rx + p.sw * (q0 + j);
      if (ox < p.wo) { y[yb + ox] = acc[j][c] + bv; }
    }
  }
}
