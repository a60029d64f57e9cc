// Repack a conv weight for the direct kernels: out[g][r][t][o] (o padded to a multiple of 4 with
// zeros, so the kernels read the 4 output channels of a tap as one vec4). The source index is
// g*sg + o*so + r*sr + t' with t' = t, or the mirrored tap KK-1-t when `flip` is set (a
// transposed conv with stride 1 is a direct conv with the kernel mirrored).
struct P {
  total: u32, nx: u32, r: u32, kk: u32,
  o: u32, o4: u32, sg: u32, so: u32,
  sr: u32, flip: u32, _a: u32, _b: u32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.nx * 256u;
  if (i >= p.total) { return; }
  let o = i % (p.o4 * 4u);
  var rest = i / (p.o4 * 4u);
  let t = rest % p.kk;
  rest = rest / p.kk;
  let r = rest % p.r;
  let g = rest / p.r;
  let ts = select(t, p.kk - 1u - t, p.flip != 0u);
  var v = 0.0;
  if (o < p.o) { v = src[g * p.sg + o * p.so + r * p.sr + ts]; }
  dst[i] = v;
}
