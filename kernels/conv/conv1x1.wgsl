// 1x1 convolution with stride 1 and no padding, NCHW, grouped: per image a GEMM
// y[n, g*O+o, q] = bias + sum over r < R of w[g*O+o, r] * x[n, g*R+r, q] over the H*W pixels q.
// Each thread computes 4 output channels (one vec4 of the packed weight, see pack.wgsl) x 8
// consecutive pixels with one straight loop over r. In the vec4 variant (H*W a multiple of 4) the
// pixels are read and written as vec4, which llvmpipe loads several times faster than scalars.
// Used for conv2d, the stride-1 transposed conv and the input gradients of 1x1 convs.
// Prepended: struct P (the conv geometry, kernels/lib/conv_params.wgsl) and the shared index
// functions (kernels/lib/conv_index.wgsl).
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<{{T}}>;
@group(0) @binding(2) var<storage, read> wp: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<{{T}}>;

// Pixels 4q .. 4q+3 of the plane starting at element `base` (past the end: clamped on load,
// skipped on store). With vec4 storage, base is a multiple of 4.
fn ld(base: u32, q: u32, hw: u32) -> vec4<f32> {
  {{LOAD}}
}

fn st(base: u32, q: u32, hw: u32, v: vec4<f32>) {
  {{STORE}}
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = conv_thread(gid.x, gid.z);
  if (i >= p.total) { return; }
  let hw = p.w;
  let nq = (hw + 3u) / 4u;
  let pb = i % p.nxb;
  let n = i / p.nxb;
  let g = gid.y / p.o4;
  let ob = gid.y % p.o4;
  let q0 = pb * 2u;
  let q1 = min(q0 + 1u, nq - 1u);
  var a0: vec4<f32>;
  var a1: vec4<f32>;
  var a2: vec4<f32>;
  var a3: vec4<f32>;
  var a4: vec4<f32>;
  var a5: vec4<f32>;
  var a6: vec4<f32>;
  var a7: vec4<f32>;
  var xb = (n * p.cin + g * p.r) * hw;
  var wb = g * p.r * p.o4 + ob;
  for (var r = 0u; r < p.r; r++) {
    let u = ld(xb, q0, hw);
    let v = ld(xb, q1, hw);
    let wv = wp[wb];
    a0 += u.x * wv;
    a1 += u.y * wv;
    a2 += u.z * wv;
    a3 += u.w * wv;
    a4 += v.x * wv;
    a5 += v.y * wv;
    a6 += v.z * wv;
    a7 += v.w * wv;
    xb += hw;
    wb += p.o4;
  }
  let oc0 = g * p.o + ob * 4u;
  for (var c = 0u; c < 4u; c++) {
    if (ob * 4u + c < p.o) {
      var bv = 0.0;
      if (p.bias != 0u) { bv = bias[oc0 + c]; }
      let yb = (n * p.cout + oc0 + c) * hw;
      st(yb, q0, hw, vec4<f32>(a0[c], a1[c], a2[c], a3[c]) + bv);
      if (q0 + 1u < nq) { st(yb, q0 + 1u, hw, vec4<f32>(a4[c], a5[c], a6[c], a7[c]) + bv); }
    }
  }
}
