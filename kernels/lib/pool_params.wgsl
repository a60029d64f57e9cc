// The uniform block of the windowed pooling kernels (pool_fwd, pool_argmax, pool_bwd,
// max_pool_bwd_window; prepended to their source by src/ops/pool.ts): n threads' items, grid
// width, mode (0 max, 1 average, 2 adaptive average), count_include_pad, input and output
// sizes, then the window: kernel, stride, padding, dilation. The geometry fields are usually
// baked into the shader as literals (bakeUniforms); the layout stays so the two agree.
struct P {
  n: u32, nx: u32, mode: u32, cip: u32,
  h: u32, w: u32, oh: u32, ow: u32,
  kh: u32, kw: u32, sh: u32, sw: u32,
  ph: u32, pw: u32, dh: u32, dw: u32,
}
