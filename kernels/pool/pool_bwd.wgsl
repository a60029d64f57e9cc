// 2-D pooling backward as a gather (no float atomics): one thread per input element sums the
// output gradients of every window that contains it. Max pooling takes the gradient where the
// window's argmax (pool_argmax.wgsl, binding 1) is this element; average pooling takes
// g / divisor (binding 1 unused). `mode` and the window parameters are those of pool_fwd.wgsl.
// struct P (the pooling geometry): kernels/lib/pool_params.wgsl, prepended.
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> arg: array<i32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

fn divisor(oy: u32, ox: u32) -> f32 {
  let h0 = i32(oy * p.sh) - i32(p.ph);
  let w0 = i32(ox * p.sw) - i32(p.pw);
  let he = min(h0 + i32(p.kh), i32(p.h + p.ph));
  let we = min(w0 + i32(p.kw), i32(p.w + p.pw));
  if (p.cip == 1u) { return f32((he - h0) * (we - w0)); }
  let hv = min(he, i32(p.h)) - max(h0, 0);
  let wv = min(we, i32(p.w)) - max(w0, 0);
  return f32(hv * wv);
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.nx * 256u;
  if (i >= p.n) { return; }
  let xw = i % p.w;
  let xh = (i / p.w) % p.h;
  let plane = i / (p.w * p.h);
  let gbase = plane * p.oh * p.ow;
  var acc = 0.0;
  if (p.mode == 2u) {
    let y0 = (xh * p.oh) / p.h;
    let y1 = ((xh + 1u) * p.oh + p.h - 1u) / p.h;
    let x0 = (xw * p.ow) / p.w;
    let x1 = ((xw + 1u) * p.ow + p.w - 1u) / p.w;
    for (var oy = y0; oy < y1; oy++) {
      let hs = (oy * p.h) / p.oh;
      let he = ((oy + 1u) * p.h + p.oh - 1u) / p.oh;
      if (xh < hs || xh >= he) { continue; }
      for (var ox = x0; ox < x1; ox++) {
        let ws = (ox * p.w) / p.ow;
        let we = ((ox + 1u) * p.w + p.ow - 1u) / p.ow;
        if (xw < ws || xw >= we) { continue; }
        acc += g[gbase + oy * p.ow + ox] / f32((he - hs) * (we - ws));
      }
    }
  } else {
    let me = i32(xh * p.w + xw);
    for (var a = 0u; a < p.kh; a++) {
      let ty = i32(xh + p.ph) - i32(a * p.dh);
      if (ty < 0 || u32(ty) % p.sh != 0u) { continue; }
      let oy = u32(ty) / p.sh;
      if (oy >= p.oh) { continue; }
      for (var b = 0u; b < p.kw; b++) {
        let tx = i32(xw + p.pw) - i32(b * p.dw);
        if (tx < 0 || u32(tx) % p.sw != 0u) { continue; }
        let ox = u32(tx) / p.sw;
        if (ox >= p.ow) { continue; }
        if (p.mode == 0u) {
          if (arg[gbase + oy * p.ow + ox] == me) { acc += g[gbase + oy * p.ow + ox]; }
        } else {
          acc += g[gbase + oy * p.ow + ox] / divisor(oy, ox);
        }
      }
    }
  }
  dx[i] = acc;
}
