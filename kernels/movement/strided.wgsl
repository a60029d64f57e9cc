// Strided copy between a contiguous block and a strided view (at = offset + sum_d coord_d(i) *
// stride_d). Gather, `dst[i] = src[at]`: permute, expand (stride 0), slice (offset, step), pixel
// shuffle. Scatter, `dst[at] = src[i]`: write a block into a region of a larger tensor (concat,
// one dispatch per operand, regions disjoint). {{ASSIGN}} picks the direction, {{T}} the type.
struct P {
  n: u32, nx: u32, rank: u32, offset: u32,
  shape: array<vec4<u32>, 2>,
  strides: array<vec4<u32>, 2>,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> src: array<{{T}}>;
@group(0) @binding(2) var<storage, read_write> dst: array<{{T}}>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.nx * 256u;
  if (i >= p.n) { return; }
  var rem = i;
  var at = p.offset;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let k = u32(d);
    let s = p.shape[k / 4u][k % 4u];
    let c = rem % s;
    rem = rem / s;
    at += c * p.strides[k / 4u][k % 4u];
  }
  {{ASSIGN}};
}
