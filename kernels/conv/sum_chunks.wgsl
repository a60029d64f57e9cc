// dst[i] = sum over c < chunks of src[c * m + i]: the second pass of the chunked weight gradient.
struct P { m: u32, nx: u32, chunks: u32, _a: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.nx * 256u;
  if (i >= p.m) { return; }
  var s = 0.0;
  for (var c = 0u; c < p.chunks; c++) { s += src[c * p.m + i]; }
  dst[i] = s;
}
