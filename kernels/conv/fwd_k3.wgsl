// 3x3, stride 1, dilation 1 direct convolution, NCHW, grouped (same contract as fwd.wgsl). Each
// invocation keeps a register tile of {{OB}} vec4s of output channels x {{PX}} consecutive
// output pixels of one row; per input channel and kernel row it loads {{PX}}+2 inputs once and
// 3·{{OB}} weight vec4s, feeding 3·{{OB}}·{{PX}} vec4 FMAs. Why: llvmpipe turns every storage
// load into a per-lane loop, so the FMA-per-load ratio decides the speed (the matmul fast path
// uses the same idea), and it keeps loop-indexed local arrays in memory, so src/ops/conv.ts
// generates the body unrolled ({{...}} parts). Output-channel quads past o4 are clamped
// (duplicates, never stored), so the inner loop has no branch on them.
// struct P (the conv geometry): kernels/lib/conv_params.wgsl, prepended.
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wp: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.z * p.nx;
  if (i >= p.total) { return; }
  let oxb = i % p.nxb;
  let rest = i / p.nxb;
  let oy = rest % p.ho;
  let n = rest / p.ho;
  let obs = (p.o4 + {{OB}}u - 1u) / {{OB}}u; // channel-quad blocks per group
  let g = gid.y / obs;
  let ob0 = (gid.y % obs) * {{OB}}u;
  let ox0 = oxb * {{PX}}u;
  let hi = i32(p.h);
  let wi = i32(p.w);
  let hw = p.h * p.w;
  let ix0 = i32(ox0) - p.pw;
{{SETUP}}
  for (var r = 0u; r < p.r; r++) {
    let xb = (n * p.cin + g * p.r + r) * hw;
    let wb = (g * p.r + r) * 9u * p.o4;
    for (var ky = 0u; ky < 3u; ky++) {
      let iy = i32(oy + ky) - p.ph;
      if (iy < 0 || iy >= hi) { continue; }
      let rb = xb + u32(iy) * p.w;
      let wk = wb + ky * 3u * p.o4;
{{BODY}}
    }
  }
  let oc0 = g * p.o;
  let yb = (n * p.cout + oc0) * p.ho * p.wo + oy * p.wo;
  let plane = p.ho * p.wo;
{{STORE}}
}
