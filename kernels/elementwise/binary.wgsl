// out = a (op) b with NumPy broadcasting: strides of broadcast axes are 0. Shapes up to rank 8.
struct P {
  n: u32, nx: u32, rank: u32, _pad: u32,
  shape: array<vec4<u32>, 2>,
  sa: array<vec4<u32>, 2>,
  sb: array<vec4<u32>, 2>,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> as_: array<{{T}}>;
@group(0) @binding(2) var<storage, read> bs: array<{{T}}>;
@group(0) @binding(3) var<storage, read_write> out: array<{{TO}}>;

fn f(a: {{T}}, b: {{T}}) -> {{TO}} {
  {{EXPR}}
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.nx * 256u;
  if (i >= p.n) { return; }
  if ({{SAME}}) {
    out[i] = f(as_[i], bs[i]);
    return;
  }
  var rem = i;
  var ia = 0u;
  var ib = 0u;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let k = u32(d);
    let s = p.shape[k / 4u][k % 4u];
    let c = rem % s;
    rem = rem / s;
    ia += c * p.sa[k / 4u][k % 4u];
    ib += c * p.sb[k / 4u][k % 4u];
  }
  out[i] = f(as_[ia], bs[ib]);
}
