// Upsampling backward as a gather: one thread per input element sums w_y·w_x·g over the output
// pixels whose taps (upsample_fwd.wgsl) include it. The candidate output range per axis is
// inverted from the source-index rule with a margin; every candidate is checked exactly.
struct P {
  n: u32, nx: u32, mode: u32, align: u32,
  h: u32, w: u32, oh: u32, ow: u32,
  rh: f32, rw: f32, _a: u32, _b: u32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

// Weight of input index `src` in output index `dst` along one axis.
fn weight(dst: u32, src: u32, r: f32, len: u32) -> f32 {
  if (p.mode == 0u) {
    return select(0.0, 1.0, min(u32(floor(f32(dst) * r)), len - 1u) == src);
  }
  var s = r * f32(dst);
  if (p.align == 0u) { s = max(r * (f32(dst) + 0.5) - 0.5, 0.0); }
  let i0 = min(u32(s), len - 1u);
  let i1 = min(i0 + 1u, len - 1u);
  let l1 = s - f32(i0);
  return select(0.0, 1.0 - l1, i0 == src) + select(0.0, l1, i1 == src);
}

// Output indices [lo, hi) that can read input index `src`.
fn range(src: u32, r: f32, len: u32, out: u32) -> vec2<u32> {
  if (r <= 0.0) { return vec2<u32>(0u, out); }
  let s = f32(src);
  var lo: f32;
  var hi: f32;
  if (p.mode == 0u) {
    lo = s / r; hi = (s + 1.0) / r;
  } else if (p.align == 1u) {
    lo = (s - 1.0) / r; hi = (s + 1.0) / r;
  } else {
    lo = (s - 0.5) / r - 0.5; hi = (s + 1.5) / r - 0.5;
  }
  // floor(lo) cannot exceed a valid index; ceil(hi) + 1 covers f32 rounding of hi.
  var a = i32(floor(lo));
  var b = i32(ceil(hi)) + 1;
  if (src + 1u >= len) { b = i32(out); }
  return vec2<u32>(u32(clamp(a, 0, i32(out))), u32(clamp(b, 0, i32(out))));
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.nx * 256u;
  if (i >= p.n) { return; }
  let ix = i % p.w;
  let iy = (i / p.w) % p.h;
  let base = (i / (p.w * p.h)) * p.oh * p.ow;
  let ry = range(iy, p.rh, p.h, p.oh);
  let rx = range(ix, p.rw, p.w, p.ow);
  var acc = 0.0;
  for (var oy = ry.x; oy < ry.y; oy++) {
    let wy = weight(oy, iy, p.rh, p.h);
    if (wy == 0.0) { continue; }
    var row = 0.0;
    for (var ox = rx.x; ox < rx.y; ox++) {
      let wx = weight(ox, ix, p.rw, p.w);
      if (wx != 0.0) { row += wx * g[base + oy * p.ow + ox]; }
    }
    acc += wy * row;
  }
  dx[i] = acc;
}
