// DHSPG phase 4, one thread per group: everything the update needs as per-group scalars,
// computed from the phase-2 sums (so the half-space test needs no second reduction:
// x_hat.x = |x|^2 (1 - coef) - lr x.d, because x_hat = x - lr d - coef x row by row).
// Out: gstate = (coef on x, fixed zero, lambda_j, projected).
struct P {
  ng: u32, nx: u32, flags: u32, _a: u32,
  lr: f32, wd: f32, lambda: f32, amp: f32,
  hat: f32, eps: f32, _b: f32, _c: f32,
}
// flags: 1 partitioned, 2 warm-up (fixed lambda, no projection), 4 half-space active,
//        8 fixed zeros, 16 decoupled L2 decay (adamw), 32 l1_norm (group-lasso) decay.
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> stats: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> mask: array<u32>;
@group(0) @binding(3) var<storage, read> summary: array<f32>;
@group(0) @binding(4) var<storage, read_write> gstate: array<vec4<f32>>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let g = id.x + id.y * p.nx * 256u;
  if (g >= p.ng) { return; }
  let s = stats[g];
  let nsq = s.x;
  let xd = s.y;
  let dd = s.z;
  let is_zero = s.w == 0.0;
  let n = sqrt(nsq);
  var coef = 0.0;
  if ((p.flags & 16u) != 0u) { coef += p.lr * p.wd; }
  if ((p.flags & 32u) != 0u) { coef += p.lr * p.wd / (n + 1e-8); }
  var lam = 0.0;
  var proj = 0.0;
  let reached = summary[3] > 0.5;
  let warm = (p.flags & 2u) != 0u;
  if ((p.flags & 1u) != 0u && mask[g] == 1u && !reached) {
    lam = p.lambda;
    if (!warm && n > 0.0 && xd < 0.0) {
      let lo = -xd / n;
      let hi = -dd * n / xd;
      lam = clamp(p.amp * lo, p.lambda, p.lambda * p.hat);
      if (lam >= hi) { lam = 0.5 * (lo + hi); }
    }
    if (n > 0.0) { coef += p.lr * lam / (n + 1e-8); }
    if (!warm && (p.flags & 4u) != 0u && !is_zero) {
      let dot = nsq * (1.0 - coef) - p.lr * xd;
      if (dot < p.eps * nsq) { proj = 1.0; }
    }
  }
  let fixed = select(0.0, 1.0, is_zero && (p.flags & 8u) != 0u);
  gstate[g] = vec4<f32>(coef, fixed, lam, proj);
}
