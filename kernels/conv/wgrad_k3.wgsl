// Weight gradient for kernels 3 wide with stride 1 and dilation 1 along x (any kh, stride and
// dilation along y): the fast path of wgrad.wgsl. Each thread owns 4·{{OQ}} output channels x
// 4·{{RQ}} input channels x the 3 taps of one kernel row ky, and walks the output rows
// [chunk*rows, (chunk+1)*rows). Along a row the 3 taps read a sliding window of the input, so
// every step loads 4·{{OQ}} dy values and 4·{{RQ}} new x values for 48·{{OQ}}·{{RQ}}
// multiply-adds. llvmpipe turns every storage load into a per-lane loop and keeps loop-indexed
// local arrays in memory, so the tile is wide and src/ops/conv_codegen.ts generates the body
// unrolled ({{...}} parts). Channels past O or R are clamped: they compute duplicates never
// stored.
// Prepended: struct P (the conv geometry, kernels/lib/conv_params.wgsl) and the shared index
// functions (kernels/lib/conv_index.wgsl).
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
  let i = conv_thread(gid.x, gid.y);
  if (i >= p.total) { return; }
  let ky = i % p.kh;
  let tile = wgrad_tile(i / p.kh, {{RQ}}u, {{OQ}}u);
  let rb = tile.rb;
  let ob = tile.ob;
  let g = tile.g;
  let chunk = tile.chunk;
  let hw = p.h * p.w;
  let hwo = p.ho * p.wo;
  let rc0 = rb * {{RQ}}u * 4u; // first input channel of the tile (within the group)
  let oc0 = ob * {{OQ}}u * 4u; // first output channel of the tile (within the group)
  let r0 = min(rc0, p.r - 1u);
{{SETUP}}
  let rowEnd = min((chunk + 1u) * p.rows, p.n * p.ho);
  for (var row = chunk * p.rows; row < rowEnd; row++) {
    let n = row / p.ho;
    let oy = row % p.ho;
    let iy = conv_in_row(oy, ky);
    if (iy < 0 || iy >= i32(p.h)) { continue; }
    let db = out_row_base(n, 0u, oy);
    let xb = (n * p.cin + g * p.r + r0) * hw + u32(iy) * p.w;
{{ROW}}
    for (var ox = 0u; ox < p.wo; ox++) {
      let d = db + ox;
      let ix = i32(ox) + 2 - p.pw;
{{STEP}}
    }
  }
  let kk = p.kh * 3u;
  let m = p.cout * p.r * kk;
{{STORE}}
}
