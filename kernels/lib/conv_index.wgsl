// Index arithmetic the conv kernels share, prepended after conv_params.wgsl by
// src/ops/conv_gpu.ts (WGSL has no include). Module-scope names may be used before they appear,
// so these functions read the uniform block `p` that each kernel declares.

// ceil(a / b) for b > 0.
fn ceil_div(a: u32, b: u32) -> u32 {
  return (a + b - 1u) / b;
}

// Flat thread index of a grid folded past 65535 workgroups along x (foldGrid / grid1d in
// conv_gpu.ts): `fold` is the invocation id along the axis the rows were folded into.
fn conv_thread(gx: u32, fold: u32) -> u32 {
  return gx + fold * p.nx;
}

// The forward tile of workgroup row `gy`: its group and first output-channel quad, when each
// group's o4 quads are cut into blocks of `ob` (gy = group * blocks + block).
struct QuadTile { g: u32, q0: u32 }
fn quad_tile(gy: u32, ob: u32) -> QuadTile {
  let blocks = ceil_div(p.o4, ob);
  return QuadTile(gy / blocks, (gy % blocks) * ob);
}

// Input row that output row oy reads at kernel row ky: oy*sh - ph + ky*dh (negative: padding).
fn conv_in_row(oy: u32, ky: u32) -> i32 {
  return i32(oy * p.sh + ky * p.dh) - p.ph;
}

// Offset in y (or dy) of row oy of image n's first output channel of group g.
fn out_row_base(n: u32, g: u32, oy: u32) -> u32 {
  return (n * p.cout + g * p.o) * p.ho * p.wo + oy * p.wo;
}

// The weight-gradient tile of `rest` (the thread index with the tap part taken off): input-
// and output-channel quad blocks of rq and oq quads, the group, and the chunk of rows summed.
struct WgradTile { rb: u32, ob: u32, g: u32, chunk: u32 }
fn wgrad_tile(rest: u32, rq: u32, oq: u32) -> WgradTile {
  let rbs = ceil_div(p.r4, rq);
  let obs = ceil_div(p.o4, oq);
  let rest1 = rest / rbs;
  let rest2 = rest1 / obs;
  return WgradTile(rest % rbs, rest1 % obs, rest2 % p.groups, rest2 / p.groups);
}
