// Direct 2-D convolution, NCHW, grouped: y[n, g*O+o, oy, ox] = bias + sum over r < R, ky, kx of
// x[n, g*R+r, oy*sh-ph+ky*dh, ox*sw-pw+kx*dw] * w[g*O+o, r, ky, kx] (zero outside the input).
// The generic path (any kernel, stride, dilation; 3x3 stride 1 has its own fwd_k3.wgsl).
// Register tiling, no workgroup memory: each thread computes 4 output channels (one vec4 of the
// packed weight, see pack.wgsl) x PX (8) consecutive output pixels of one row; every tap loads
// its own PX inputs. Pads are signed, so a stride-1 transposed conv runs here too (mirrored
// kernel, pad = dilation*(k-1) - pad).
// struct P (the conv geometry): kernels/lib/conv_params.wgsl, prepended.
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wp: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

const PX: u32 = {{PX}};

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.z * p.nx;
  if (i >= p.total) { return; }
  let oxb = i % p.nxb;
  let rest = i / p.nxb;
  let oy = rest % p.ho;
  let n = rest / p.ho;
  let g = gid.y / p.o4;
  let ob = gid.y % p.o4;
  let ox0 = oxb * PX;
  let kk = p.kh * p.kw;
  let hi = i32(p.h);
  let wi = i32(p.w);
  let hw = p.h * p.w;
  var acc: array<vec4<f32>, PX>;
    // Taps outside, channels inside: bounds tests and offsets are computed once per tap and
    // the channel loop only loads and multiplies.
    for (var ky = 0u; ky < p.kh; ky++) {
      let iy = i32(oy * p.sh + ky * p.dh) - p.ph;
      if (iy < 0 || iy >= hi) { continue; }
      let rowOff = u32(iy) * p.w;
      for (var kx = 0u; kx < p.kw; kx++) {
        var off: array<u32, PX>;
        var ok: array<f32, PX>;
        let ixk = i32(kx * p.dw) - p.pw;
        for (var j = 0u; j < PX; j++) {
          let ix = i32((ox0 + j) * p.sw) + ixk;
          off[j] = rowOff + u32(clamp(ix, 0, wi - 1));
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
      if (ox0 + j < p.wo) { y[yb + ox0 + j] = acc[j][c] + bv; }
    }
  }
}
