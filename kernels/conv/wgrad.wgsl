// Weight gradient of a 2-D convolution as an implicit GEMM over the N*Ho*Wo output pixels:
// dw[g*O+o, r, ky, kx] = sum of dy[n, g*O+o, oy, ox] * x[n, g*R+r, oy*sh-ph+ky*dh, ox*sw-pw+kx*dw].
// Each thread owns 4·{{OQ}} output channels x 4·{{RQ}} input channels of one tap and the output
// rows [chunk*rows, (chunk+1)*rows); partial sums go to part[chunk] and sum_chunks.wgsl adds
// them. The valid ox range of the tap is computed up front, so the inner loop has no bounds
// tests. The body is generated unrolled by src/ops/conv_codegen.ts ({{...}} parts), as in
// wgrad_k3.wgsl.
// Prepended: struct P (the conv geometry, kernels/lib/conv_params.wgsl) and the shared index
// functions (kernels/lib/conv_index.wgsl).
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = conv_thread(gid.x, gid.y);
  if (i >= p.total) { return; }
  let kk = p.kh * p.kw;
  let t = i % kk;
  let tile = wgrad_tile(i / kk, {{RQ}}u, {{OQ}}u);
  let rb = tile.rb;
  let ob = tile.ob;
  let g = tile.g;
  let chunk = tile.chunk;
  let ky = t / p.kw;
  let kx = t % p.kw;
  // Output columns whose input column ox*sw - pw + kx*dw lies inside [0, w).
  let a = p.pw - i32(kx * p.dw);
  let swi = i32(p.sw);
  let lo = select(0, (a + swi - 1) / swi, a > 0);
  let b = i32(p.w) - 1 + a;
  let hiX = select(0, min(i32(p.wo), b / swi + 1), b >= 0);
  let oxLo = u32(lo);
  let oxHi = u32(max(hiX, lo));
  let hw = p.h * p.w;
  let hwo = p.ho * p.wo;
  let rc0 = rb * {{RQ}}u * 4u; // first input channel of the tile (within the group)
  let oc0 = ob * {{OQ}}u * 4u; // first output channel of the tile (within the group)
{{SETUP}}
  let rowEnd = min((chunk + 1u) * p.rows, p.n * p.ho);
  for (var row = chunk * p.rows; row < rowEnd; row++) {
    let n = row / p.ho;
    let oy = row % p.ho;
    let iy = conv_in_row(oy, ky);
    if (iy < 0 || iy >= i32(p.h)) { continue; }
    let db = out_row_base(n, 0u, oy);
    let xr = n * p.cin * hw + u32(iy) * p.w + kx * p.dw - u32(p.pw);
    for (var ox = oxLo; ox < oxHi; ox++) {
      let d = db + ox;
      let xi = xr + ox * p.sw;
{{STEP}}
    }
  }
  let m = p.cout * p.r * kk;
{{STORE}}
}
