// Argmax of each max-pooling window (flat h·W + w index within the plane; first on ties, as
// the forward picks its value), one thread per output element. Feeds the backward gather.
// struct P (the pooling geometry): kernels/lib/pool_params.wgsl, prepended.
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> arg: array<i32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.nx * 256u;
  if (i >= p.n) { return; }
  let ox = i % p.ow;
  let oy = (i / p.ow) % p.oh;
  let base = (i / (p.ow * p.oh)) * p.h * p.w;
  let h0 = i32(oy * p.sh) - i32(p.ph);
  let w0 = i32(ox * p.sw) - i32(p.pw);
  var best = -3.40282347e+38;
  var at = -1;
  for (var a = 0u; a < p.kh; a++) {
    let hh = h0 + i32(a * p.dh);
    if (hh < 0 || hh >= i32(p.h)) { continue; }
    for (var b = 0u; b < p.kw; b++) {
      let ww = w0 + i32(b * p.dw);
      if (ww < 0 || ww >= i32(p.w)) { continue; }
      let v = x[base + u32(hh) * p.w + u32(ww)];
      if (v > best || at < 0) { best = v; at = hh * i32(p.w) + ww; }
    }
  }
  arg[i] = at;
}
