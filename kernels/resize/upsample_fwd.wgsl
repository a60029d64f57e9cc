// Upsampling of NCHW planes with PyTorch's source-index rules, one thread per output element.
// mode 0 nearest: src = min(floor(dst·r), in-1). mode 1 bilinear: src = r·dst (align corners)
// or max(r·(dst+0.5) - 0.5, 0); i0 = floor(src), i1 = min(i0+1, in-1), weights 1-λ, λ.
// `r` is the source step per output pixel (1/scale, or (in-1)/(out-1) with align corners).
struct P {
  n: u32, nx: u32, mode: u32, align: u32,
  h: u32, w: u32, oh: u32, ow: u32,
  rh: f32, rw: f32, _a: u32, _b: u32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

struct Tap { i0: u32, i1: u32, l0: f32, l1: f32 }

fn tap(dst: u32, r: f32, len: u32) -> Tap {
  if (p.mode == 0u) {
    let s = min(u32(floor(f32(dst) * r)), len - 1u);
    return Tap(s, s, 1.0, 0.0);
  }
  var src = r * f32(dst);
  if (p.align == 0u) { src = max(r * (f32(dst) + 0.5) - 0.5, 0.0); }
  let i0 = min(u32(src), len - 1u);
  let i1 = min(i0 + 1u, len - 1u);
  let l1 = src - f32(i0);
  return Tap(i0, i1, 1.0 - l1, l1);
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.nx * 256u;
  if (i >= p.n) { return; }
  let ox = i % p.ow;
  let oy = (i / p.ow) % p.oh;
  let base = (i / (p.ow * p.oh)) * p.h * p.w;
  let ty = tap(oy, p.rh, p.h);
  let tx = tap(ox, p.rw, p.w);
  let top = tx.l0 * x[base + ty.i0 * p.w + tx.i0] + tx.l1 * x[base + ty.i0 * p.w + tx.i1];
  let bot = tx.l0 * x[base + ty.i1 * p.w + tx.i0] + tx.l1 * x[base + ty.i1 * p.w + tx.i1];
  y[i] = ty.l0 * top + ty.l1 * bot;
}
