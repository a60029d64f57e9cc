// Reduce over any set of axes. Thread t computes output o = t / chunks over the chunk
// c = t % chunks of the reduced index range; a second pass (same kernel, contiguous) combines
// chunks when there are few outputs and many reduced elements. {{INIT}}/{{COMBINE}} define the
// reduction (sum, max, min); `scale` is applied to the final value (mean). The OFFSET part
// maps the reduced index r to its offset: `off = r` when the reduced axes are the trailing
// ones, else code generated with the reduced dims as literals (src/ops/reduce.ts), because
// llvmpipe divides by a uniform lane by lane and this runs once per element.
struct P {
  n: u32, nx: u32, rank: u32, red: u32,
  chunk_len: u32, chunks: u32, scale: f32, _pad: u32,
  oshape: array<vec4<u32>, 2>,
  ostr: array<vec4<u32>, 2>,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

fn combine(a: f32, b: f32) -> f32 { {{COMBINE}} }

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.x + gid.y * p.nx * 64u;
  if (t >= p.n) { return; }
  let o = t / p.chunks;
  let c = t % p.chunks;
  var rem = o;
  var base = 0u;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let k = u32(d);
    let s = p.oshape[k / 4u][k % 4u];
    let q = rem % s;
    rem = rem / s;
    base += q * p.ostr[k / 4u][k % 4u];
  }
  var acc: f32 = {{INIT}};
  let r0 = c * p.chunk_len;
  let r1 = min(p.red, r0 + p.chunk_len);
  for (var r = r0; r < r1; r++) {
    var off = 0u;
    var rr = r;
{{OFFSET}}
    acc = combine(acc, src[base + off]);
  }
  dst[t] = acc * p.scale;
}
