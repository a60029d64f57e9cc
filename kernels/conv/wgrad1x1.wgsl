// Weight gradient of a 1x1 convolution with stride 1 and no padding: per group a GEMM over the
// N*H*W pixels, dw[g*O+o, r] = sum over n, q of dy[n, g*O+o, q] * x[n, g*R+r, q]. Pixels are
// taken 4 at a time (quads; vec4 loads when H*W is a multiple of 4) and each thread owns
// 4 output x 4 input channels and the quads [chunk*rows, (chunk+1)*rows) of the N*ceil(H*W/4)
// quads; partial sums go to part[chunk] and sum_chunks.wgsl adds them.
// Prepended: struct P (the conv geometry, kernels/lib/conv_params.wgsl) and the shared index
// functions (kernels/lib/conv_index.wgsl).
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<{{T}}>;
@group(0) @binding(2) var<storage, read> dy: array<{{T}}>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;

// Pixels 4q .. 4q+3 of the plane at element `base` (clamped to the last pixel).
fn ldx(base: u32, q: u32, hw: u32) -> vec4<f32> {
  {{LOADX}}
}

// Same for dy, with the pixels past the end read as zero (so they add nothing).
fn ldd(base: u32, q: u32, hw: u32) -> vec4<f32> {
  {{LOADD}}
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = conv_thread(gid.x, gid.y);
  if (i >= p.total) { return; }
  let tile = wgrad_tile(i, 1u, 1u); // one quad of input and of output channels per thread
  let rb = tile.rb;
  let ob = tile.ob;
  let g = tile.g;
  let chunk = tile.chunk;
  let hw = p.w;
  let nq = (hw + 3u) / 4u;
  // Clamped channels: lanes past O or R compute garbage that is never stored.
  let o0 = g * p.o + min(ob * 4u, p.o - 1u);
  let o1 = g * p.o + min(ob * 4u + 1u, p.o - 1u);
  let o2 = g * p.o + min(ob * 4u + 2u, p.o - 1u);
  let o3 = g * p.o + min(ob * 4u + 3u, p.o - 1u);
  let r0 = g * p.r + min(rb * 4u, p.r - 1u);
  let r1 = g * p.r + min(rb * 4u + 1u, p.r - 1u);
  let r2 = g * p.r + min(rb * 4u + 2u, p.r - 1u);
  let r3 = g * p.r + min(rb * 4u + 3u, p.r - 1u);
  var acc0: vec4<f32>;
  var acc1: vec4<f32>;
  var acc2: vec4<f32>;
  var acc3: vec4<f32>;
  let end = min((chunk + 1u) * p.rows, p.n * nq);
  for (var k = chunk * p.rows; k < end; k++) {
    let n = k / nq;
    let q = k % nq;
    let db = n * p.cout * hw;
    let xb = n * p.cin * hw;
    let d0 = ldd(db + o0 * hw, q, hw);
    let d1 = ldd(db + o1 * hw, q, hw);
    let d2 = ldd(db + o2 * hw, q, hw);
    let d3 = ldd(db + o3 * hw, q, hw);
    let x0 = ldx(xb + r0 * hw, q, hw);
    let x1 = ldx(xb + r1 * hw, q, hw);
    let x2 = ldx(xb + r2 * hw, q, hw);
    let x3 = ldx(xb + r3 * hw, q, hw);
    let xa = vec4<f32>(x0.x, x1.x, x2.x, x3.x);
    let xbv = vec4<f32>(x0.y, x1.y, x2.y, x3.y);
    let xc = vec4<f32>(x0.z, x1.z, x2.z, x3.z);
    let xd = vec4<f32>(x0.w, x1.w, x2.w, x3.w);
    acc0 += d0.x * xa + d0.y * xbv + d0.z * xc + d0.w * xd;
    acc1 += d1.x * xa + d1.y * xbv + d1.z * xc + d1.w * xd;
    acc2 += d2.x * xa + d2.y * xbv + d2.z * xc + d2.w * xd;
    acc3 += d3.x * xa + d3.y * xbv + d3.z * xc + d3.w * xd;
  }
  let acc = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  let m = p.cout * p.r;
  for (var c = 0u; c < 4u; c++) {
    if (ob * 4u + c >= p.o) { break; }
    for (var e = 0u; e < 4u; e++) {
      if (rb * 4u + e >= p.r) { break; }
      part[chunk * m + (g * p.o + ob * 4u + c) * p.r + rb * 4u + e] = acc[c][e];
    }
  }
}
