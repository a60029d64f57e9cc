// Weight gradient of a 2-D convolution as an implicit GEMM over the N*Ho*Wo output pixels:
// dw[g*O+o, r, ky, kx] = sum of dy[n, g*O+o, oy, ox] * x[n, g*R+r, oy*sh-ph+ky*dh, ox*sw-pw+kx*dw].
// Each thread owns 4 output channels x 4 input channels of one tap and the output rows
// [chunk*rows, (chunk+1)*rows); partial sums go to part[chunk] and sum_chunks.wgsl adds them.
// The valid ox range of the tap is computed up front, so the inner loop has no bounds tests.
// struct P (the conv geometry): kernels/lib/conv_params.wgsl, prepended.
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.nx;
  if (i >= p.total) { return; }
  let kk = p.kh * p.kw;
  let t = i % kk;
  var rest = i / kk;
  let rb = rest % p.r4;
  rest = rest / p.r4;
  let ob = rest % p.o4;
  rest = rest / p.o4;
  let g = rest % p.groups;
  let chunk = rest / p.groups;
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
  // Clamped channels: lanes past O or R compute garbage that is never stored.
  let o0 = g * p.o + min(ob * 4u, p.o - 1u);
  let o1 = g * p.o + min(ob * 4u + 1u, p.o - 1u);
  let o2 = g * p.o + min(ob * 4u + 2u, p.o - 1u);
  let o3 = g * p.o + min(ob * 4u + 3u, p.o - 1u);
  let r0 = g * p.r + min(rb * 4u, p.r - 1u);
  let r1 = g * p.r + min(rb * 4u + 1u, p.r - 1u);
  let r2 = g * p.r + min(rb * 4u + 2u, p.r - 1u);
  let r3 = g * p.r + min(rb * 4u + 3u, p.r - 1u);
  let hw = p.h * p.w;
  let hwo = p.ho * p.wo;
  var acc: array<vec4<f32>, 4>;
  let rowEnd = min((chunk + 1u) * p.rows, p.n * p.ho);
  for (var row = chunk * p.rows; row < rowEnd; row++) {
    let n = row / p.ho;
    let oy = row % p.ho;
    let iy = i32(oy * p.sh + ky * p.dh) - p.ph;
    if (iy < 0 || iy >= i32(p.h)) { continue; }
    let db = n * p.cout * hwo + oy * p.wo;
    let xr = n * p.cin * hw + u32(iy) * p.w + kx * p.dw - u32(p.pw);
    for (var ox = oxLo; ox < oxHi; ox++) {
      let d = db + ox;
      let dv = vec4<f32>(dy[d + o0 * hwo], dy[d + o1 * hwo], dy[d + o2 * hwo], dy[d + o3 * hwo]);
      let xi = xr + ox * p.sw;
      let xv = vec4<f32>(x[xi + r0 * hw], x[xi + r1 * hw], x[xi + r2 * hw], x[xi + r3 * hw]);
      acc[0] += dv.x * xv;
      acc[1] += dv.y * xv;
      acc[2] += dv.z * xv;
      acc[3] += dv.w * xv;
    }
  }
  let m = p.cout * p.r * kk;
  for (var c = 0u; c < 4u; c++) {
    if (ob * 4u + c >= p.o) { break; }
    for (var e = 0u; e < 4u; e++) {
      if (rb * 4u + e >= p.r) { break; }
      part[chunk * m + ((g * p.o + ob * 4u + c) * p.r + rb * 4u + e) * kk + t] = acc[c][e];
    }
  }
}
