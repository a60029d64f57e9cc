// 2-D pooling forward, NCHW, one thread per output element. `mode`: 0 max, 1 average,
// 2 adaptive average (PyTorch bins: start = floor(o*in/out), end = ceil((o+1)*in/out)).
// Max ignores padded taps (ties: first tap in row-major window order); average divides by the
// window clipped to the padded input (count_include_pad) or by the valid taps only.
// struct P (the pooling geometry): kernels/lib/pool_params.wgsl, prepended.
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.nx * 256u;
  if (i >= p.n) { return; }
  let ox = i % p.ow;
  let oy = (i / p.ow) % p.oh;
  let plane = i / (p.ow * p.oh);
  let base = plane * p.h * p.w;
  var h0: i32; var w0: i32; var kh: u32; var kw: u32; var dh: u32; var dw: u32;
  if (p.mode == 2u) {
    h0 = i32((oy * p.h) / p.oh);
    w0 = i32((ox * p.w) / p.ow);
    kh = ((oy + 1u) * p.h + p.oh - 1u) / p.oh - u32(h0);
    kw = ((ox + 1u) * p.w + p.ow - 1u) / p.ow - u32(w0);
    dh = 1u; dw = 1u;
  } else {
    h0 = i32(oy * p.sh) - i32(p.ph);
    w0 = i32(ox * p.sw) - i32(p.pw);
    kh = p.kh; kw = p.kw; dh = p.dh; dw = p.dw;
  }
  var best = -3.40282347e+38;
  var acc = 0.0;
  var valid = 0u;
  for (var a = 0u; a < kh; a++) {
    let hh = h0 + i32(a * dh);
    if (hh < 0 || hh >= i32(p.h)) { continue; }
    for (var b = 0u; b < kw; b++) {
      let ww = w0 + i32(b * dw);
      if (ww < 0 || ww >= i32(p.w)) { continue; }
      let v = x[base + u32(hh) * p.w + u32(ww)];
      if (v > best) { best = v; }
      acc += v;
      valid++;
    }
  }
  if (p.mode == 0u) {
    y[i] = best;
  } else {
    var div = valid;
    if (p.mode == 1u && p.cip == 1u) {
      let he = min(h0 + i32(kh), i32(p.h + p.ph));
      let we = min(w0 + i32(kw), i32(p.w + p.pw));
      div = u32((he - h0) * (we - w0));
    }
    y[i] = acc / f32(div);
  }
}
