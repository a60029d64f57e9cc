// Shared by the one-thread-per-element norm kernels (norm_apply, norm_bwd_apply; prepended by
// elemDispatch in src/ops/norm.ts). The input is viewed as [planes = N·C, S]; a workgroup of 256
// covers 2^tsLog2 positions of 256 >> tsLog2 planes (so [N, C] inputs with S = 1 still fill
// workgroups). With n = plane / C, c = plane % C: statistics group r = n·rn + (c / cg)·rc + s·rs,
// parameter index k = c·pc + s·ps.
struct P {
  planes: u32, C: u32, S: u32, tsLog2: u32,
  ny: u32, cg: u32, rn: u32, rc: u32,
  rs: u32, pc: u32, ps: u32, center: u32,
  eps: f32, nc: f32, groups: u32, _pad: u32,
}
@group(0) @binding(0) var<uniform> p: P;

// Element i (row-major), its statistics group r and parameter index k; ok = inside the tensor.
struct Elem { i: u32, r: u32, k: u32, ok: bool }

fn elem(wid: vec3<u32>, lid: u32) -> Elem {
  let s = (wid.x << p.tsLog2) + (lid & ((1u << p.tsLog2) - 1u));
  let plane = ((wid.y + wid.z * p.ny) << (8u - p.tsLog2)) + (lid >> p.tsLog2);
  if (s >= p.S || plane >= p.planes) { return Elem(0u, 0u, 0u, false); }
  let n = plane / p.C;
  let c = plane % p.C;
  var cr = c;
  if (p.cg > 1u) { cr = c / p.cg; }
  return Elem(plane * p.S + s, n * p.rn + cr * p.rc + s * p.rs, c * p.pc + s * p.ps, true);
}
