// The uniform block of every kernel in kernels/conv except pack and sum_chunks (prepended to their
// source by src/ops/conv_gpu.ts, which fills it from one ConvGeometry in this order): x [n, cin, h, w]
// -> y [n, cout, ho, wo], kernel kh x kw, stride, signed padding, dilation, groups with r input
// and o output channels each (r4/o4 rounded up to 4), plus per-kernel tiling counts.
struct P {
  total: u32, nx: u32, n: u32, cin: u32,
  h: u32, w: u32, cout: u32, ho: u32,
  wo: u32, r: u32, o: u32, o4: u32,
  kh: u32, kw: u32, sh: u32, sw: u32,
  ph: i32, pw: i32, dh: u32, dw: u32,
  nxb: u32, bias: u32, groups: u32, r4: u32,
  rows: u32, chunks: u32, _a: u32, _b: u32,
}
