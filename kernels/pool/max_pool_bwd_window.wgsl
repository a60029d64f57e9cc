// Max-pool backward when the windows tile the input exactly (kernel = stride, no padding, no
// dilation, sizes divisible): one thread per window finds its argmax (first on ties, as
// pool_argmax.wgsl) and writes the whole window of dx (g there, 0 elsewhere). No argmax buffer,
// no gather over windows, and the geometry is baked in (src/ops/pool.ts, bakeUniforms).
// struct P (the pooling geometry): kernels/lib/pool_params.wgsl, prepended.
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.nx * 256u;
  if (i >= p.n) { return; }
  let ox = i % p.ow;
  let oy = (i / p.ow) % p.oh;
  let base = (i / (p.ow * p.oh)) * p.h * p.w + oy * p.kh * p.w + ox * p.kw;
  var best = x[base];
  var at = 0u;
  for (var a = 0u; a < p.kh; a++) {
    for (var b = 0u; b < p.kw; b++) {
      let v = x[base + a * p.w + b];
      if (v > best) { best = v; at = a * p.kw + b; }
    }
  }
  let gv = g[i];
  for (var a = 0u; a < p.kh; a++) {
    for (var b = 0u; b < p.kw; b++) {
      dx[base + a * p.w + b] = select(0.0, gv, a * p.kw + b == at);
    }
  }
}
