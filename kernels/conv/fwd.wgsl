// Direct 2-D convolution, NCHW, grouped: y[n, g*O+o, oy, ox] = bias + sum over r < R, ky, kx of
// x[n, g*R+r, oy*sh-ph+ky*dh, ox*sw-pw+kx*dw] * w[g*O+o, r, ky, kx] (zero outside the input).
// The generic path (any kernel, stride, dilation; 3x3 stride 1 has its own fwd_k3.wgsl).
// Register tiling, no workgroup memory: each thread computes {{OB}} vec4s of output channels
// (packed weight, see pack.wgsl) x {{PX}} consecutive output pixels of one row. Taps outside,
// channels inside: the offsets and bounds of the {{PX}} inputs of a tap are computed once, and
// per input channel the loop loads {{PX}} inputs and {{OB}} weight vec4s. The body is generated
// unrolled by src/ops/conv_codegen.ts ({{...}} parts; llvmpipe keeps loop-indexed local arrays in
// memory). Pads are signed, so a stride-1 transposed conv runs here too (mirrored kernel,
// pad = dilation*(k-1) - pad).
// Prepended: struct P (the conv geometry, kernels/lib/conv_params.wgsl) and the shared index
// functions (kernels/lib/conv_index.wgsl).
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wp: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = conv_thread(gid.x, gid.z);
  if (i >= p.total) { return; }
  let oxb = i % p.nxb;
  let rest = i / p.nxb;
  let oy = rest % p.ho;
  let n = rest / p.ho;
  let tile = quad_tile(gid.y, {{OB}}u);
  let g = tile.g;
  let ob0 = tile.q0;
  let ox0 = oxb * {{PX}}u;
  let kk = p.kh * p.kw;
  let hi = i32(p.h);
  let wi = i32(p.w);
  let hw = p.h * p.w;
{{SETUP}}
  for (var ky = 0u; ky < p.kh; ky++) {
    let iy = conv_in_row(oy, ky);
    if (iy < 0 || iy >= hi) { continue; }
    let rowOff = u32(iy) * p.w;
    for (var kx = 0u; kx < p.kw; kx++) {
      let ixk = i32(kx * p.dw) - p.pw;
{{TAP}}
      var xb = (n * p.cin + g * p.r) * hw;
      var wk = g * p.r * kk * p.o4 + (ky * p.kw + kx) * p.o4;
      for (var r = 0u; r < p.r; r++) {
{{BODY}}
        xb += hw;
        wk += kk * p.o4;
      }
    }
  }
  let oc0 = g * p.o;
  let yb = out_row_base(n, g, oy);
  let plane = p.ho * p.wo;
{{STORE}}
}
