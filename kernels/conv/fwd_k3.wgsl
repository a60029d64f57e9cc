// 3x3, stride 1, dilation 1 direct convolution, NCHW, grouped (same contract as fwd.wgsl). Each
// invocation keeps a register tile of {{OB}} vec4s of output channels x {{PX}} consecutive
// output pixels of one row; per input channel and kernel row it loads {{PX}}+2 inputs once and
// 3·{{OB}} weight vec4s, feeding 3·{{OB}}·{{PX}} vec4 FMAs. Why: llvmpipe turns every storage
// load into a per-lane loop, so the FMA-per-load ratio decides the speed (the matmul fast path
// uses the same idea), and it keeps loop-indexed local arrays in memory, so src/ops/conv_codegen.ts
// generates the body unrolled ({{...}} parts). Output-channel quads past o4 are clamped
// (duplicates, never stored), so the inner loop has no branch on them.
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
  let yb = out_row_base(n, g, oy);
  let plane = p.ho * p.wo;
{{STORE}}
}
