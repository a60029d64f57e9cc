// out[i] = value (bit pattern given as u32, so one kernel serves every 4-byte dtype).
struct P { n: u32, nx: u32, bits: u32, _pad: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.nx * 256u;
  if (i >= p.n) { return; }
  out[i] = p.bits;
}
