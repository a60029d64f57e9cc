/**
 * WGSL generated for the conv kernels' register tiles (the {{...}} parts of kernels/conv/
 * fwd_k3.wgsl, fwd.wgsl, transposed.wgsl, wgrad_k3.wgsl and wgrad.wgsl). Why generated: llvmpipe
 * keeps loop-indexed local arrays in memory and turns every storage load into a per-lane loop,
 * so a fast kernel keeps a wide tile of accumulators in named registers and reuses each loaded
 * value many times; the unrolled bodies are written here once for every tile size.
 */

/**
 * Register tiles of the forward kernels. fwd_k3.wgsl: up to K3_PX pixels of a row and as many
 * output-channel quads (at most K3_OB) as fit K3_ACC vec4 accumulators (16 px x 2 quads, 8 x 4;
 * on llvmpipe about 2.5x the speed of the 8 x 1 tile it had; 8 x 8 was slower). Generic
 * fwd/transposed kernels: GEN_OB quads x up to 8 pixels.
 */
export const K3_OB = 4, K3_PX = 16, K3_ACC = 32, GEN_OB = 4;

/** Accumulators of a forward tile (`a{q}_{j}`) and its clamped channel quads (`oq{q}`). */
function tileSetup(ob: number, px: number): string {
  const setup: string[] = [];
  for (let q = 0; q < ob; q++) {
    setup.push(`  let oq${q} = min(ob0 + ${q}u, p.o4 - 1u);`);
    for (let j = 0; j < px; j++) setup.push(`  var a${q}_${j} = vec4<f32>(0.0);`);
  }
  return setup.join("\n");
}

/**
 * Store of a forward tile (+ bias), skipping channels past O and pixels past wo; pixel j of
 * the tile is column `col(j)` of row `yb` (consecutive from ox0 unless given).
 */
function tileStore(ob: number, px: number, col = (j: number) => `ox0 + ${j}u`): string {
  const store: string[] = [];
  for (let q = 0; q < ob; q++) {
    store.push(`  if (ob0 + ${q}u < p.o4) {`);
    for (let c = 0; c < 4; c++) {
      store.push(`    { let oc = (ob0 + ${q}u) * 4u + ${c}u; if (oc < p.o) {`);
      store.push(`      var bv = 0.0; if (p.bias != 0u) { bv = bias[oc0 + oc]; }`);
      store.push(`      let yo = yb + oc * plane;`);
      for (let j = 0; j < px; j++) {
        store.push(`      if (${col(j)} < p.wo) { y[yo + ${col(j)}] = a${q}_${j}[${c}] + bv; }`);
      }
      store.push(`    } }`);
    }
    store.push(`  }`);
  }
  return store.join("\n");
}

/** The generated parts of fwd_k3.wgsl for a tile of `ob` channel quads x `px` pixels. */
export function k3Body(ob: number, px: number): Record<string, string | number> {
  const body: string[] = [];
  for (let j = 0; j < px + 2; j++) {
    body.push(
      `      let i${j} = ix0 + ${j}; let x${j} = select(0.0, x[rb + u32(clamp(i${j}, 0, wi - 1))], ` +
        `i${j} >= 0 && i${j} < wi);`,
    );
  }
  for (let q = 0; q < ob; q++) {
    for (let t = 0; t < 3; t++) body.push(`      let w${q}_${t} = wp[wk + ${t}u * p.o4 + oq${q}];`);
    for (let j = 0; j < px; j++) {
      body.push(
        `      a${q}_${j} += x${j} * w${q}_0 + x${j + 1} * w${q}_1 + x${j + 2} * w${q}_2;`,
      );
    }
  }
  return {
    OB: ob,
    PX: px,
    SETUP: tileSetup(ob, px),
    BODY: body.join("\n"),
    STORE: tileStore(ob, px),
  };
}

/** The generated parts of fwd.wgsl (the generic path) for `ob` channel quads x `px` pixels. */
export function fwdBody(
  ob: number,
  px: number,
  col?: (j: number) => string,
): Record<string, string | number> {
  const tap: string[] = [], body: string[] = [];
  for (let j = 0; j < px; j++) {
    // Input column of pixel j at this tap: strided (fwd.wgsl) or consecutive (transposed.wgsl).
    const ix = col ? `ixb + ${j}` : `i32((ox0 + ${j}u) * p.sw) + ixk`;
    tap.push(
      `      let ix${j} = ${ix}; let off${j} = rowOff + u32(clamp(ix${j}, 0, wi - 1)); ` +
        `let ok${j} = ix${j} >= 0 && ix${j} < wi;`,
    );
    body.push(`        let x${j} = select(0.0, x[xb + off${j}], ok${j});`);
  }
  for (let q = 0; q < ob; q++) {
    body.push(`        let w${q} = wp[wk + oq${q}];`);
    for (let j = 0; j < px; j++) body.push(`        a${q}_${j} += x${j} * w${q};`);
  }
  return {
    OB: ob,
    PX: px,
    SETUP: tileSetup(ob, px),
    TAP: tap.join("\n"),
    BODY: body.join("\n"),
    STORE: tileStore(ob, px, col),
  };
}

/**
 * Output x input channel quads per invocation of the weight-gradient kernels (measured on
 * llvmpipe: 2.5-3x the speed of the 1 x 1 tile; 4 x 1 and 1 x 4 were slower).
 */
export const WG_OQ = 2, WG_RQ = 2;

/** The generated parts of wgrad_k3.wgsl for a tile of `oq` x `rq` channel quads. */
export function wgradK3Body(oq: number, rq: number): Record<string, string | number> {
  const setup: string[] = [], row: string[] = [], step: string[] = [], store: string[] = [];
  for (let q = 0; q < rq; q++) {
    const ch = (e: number) => `min(rc0 + ${4 * q + e}u, p.r - 1u)`;
    const rel = [1, 2, 3].map((e) => `${ch(e)} - ${ch(0)}`).join(", ");
    setup.push(`  let rb${q} = (${ch(0)} - r0) * hw;`, `  let ro${q} = vec3<u32>(${rel}) * hw;`);
    for (let c = 0; c < 4 * oq; c++) {
      for (let t = 0; t < 3; t++) setup.push(`  var a${c}_${q}_${t} = vec4<f32>(0.0);`);
    }
    row.push(
      `    var xa${q}: vec4<f32>;`,
      `    var xm${q} = load4(xb + rb${q}, -p.pw, ro${q});`,
      `    var xc${q} = load4(xb + rb${q}, 1 - p.pw, ro${q});`,
    );
    step.push(
      `      xa${q} = xm${q}; xm${q} = xc${q}; xc${q} = load4(xb + rb${q}, ix, ro${q});`,
    );
  }
  for (let c = 0; c < 4 * oq; c++) {
    setup.push(`  let do${c} = (g * p.o + min(oc0 + ${c}u, p.o - 1u)) * hwo;`);
    step.push(`      let d${c} = dy[d + do${c}];`);
    for (let q = 0; q < rq; q++) {
      step.push(
        `      a${c}_${q}_0 += d${c} * xa${q}; a${c}_${q}_1 += d${c} * xm${q}; ` +
          `a${c}_${q}_2 += d${c} * xc${q};`,
      );
    }
  }
  for (let c = 0; c < 4 * oq; c++) {
    store.push(`  if (oc0 + ${c}u < p.o) {`);
    for (let q = 0; q < rq; q++) {
      for (let e = 0; e < 4; e++) {
        const rc = 4 * q + e;
        store.push(
          `    if (rc0 + ${rc}u < p.r) {`,
          `      let at = chunk * m + ((g * p.o + oc0 + ${c}u) * p.r + rc0 + ${rc}u) * kk + ky * 3u;`,
          `      part[at] = a${c}_${q}_0[${e}]; part[at + 1u] = a${c}_${q}_1[${e}]; ` +
            `part[at + 2u] = a${c}_${q}_2[${e}];`,
          `    }`,
        );
      }
    }
    store.push(`  }`);
  }
  return {
    OQ: oq,
    RQ: rq,
    SETUP: setup.join("\n"),
    ROW: row.join("\n"),
    STEP: step.join("\n"),
    STORE: store.join("\n"),
  };
}

/** The generated parts of wgrad.wgsl (the generic path) for `oq` x `rq` channel quads. */
export function wgradBody(oq: number, rq: number): Record<string, string | number> {
  const setup: string[] = [], step: string[] = [], store: string[] = [];
  for (let e = 0; e < 4 * rq; e++) {
    setup.push(`  let xo${e} = (g * p.r + min(rc0 + ${e}u, p.r - 1u)) * hw;`);
  }
  for (let q = 0; q < rq; q++) {
    const xs = [0, 1, 2, 3].map((e) => `x[xi + xo${4 * q + e}]`).join(", ");
    step.push(`      let x${q} = vec4<f32>(${xs});`);
  }
  for (let c = 0; c < 4 * oq; c++) {
    setup.push(`  let do${c} = (g * p.o + min(oc0 + ${c}u, p.o - 1u)) * hwo;`);
    step.push(`      let d${c} = dy[d + do${c}];`);
    for (let q = 0; q < rq; q++) {
      setup.push(`  var a${c}_${q} = vec4<f32>(0.0);`);
      step.push(`      a${c}_${q} += d${c} * x${q};`);
    }
    store.push(`  if (oc0 + ${c}u < p.o) {`);
    for (let q = 0; q < rq; q++) {
      for (let e = 0; e < 4; e++) {
        const rc = 4 * q + e;
        store.push(
          `    if (rc0 + ${rc}u < p.r) { part[chunk * m + ((g * p.o + oc0 + ${c}u) * p.r + ` +
            `rc0 + ${rc}u) * kk + t] = a${c}_${q}[${e}]; }`,
        );
      }
    }
    store.push(`  }`);
  }
  return {
    OQ: oq,
    RQ: rq,
    SETUP: setup.join("\n"),
    STEP: step.join("\n"),
    STORE: store.join("\n"),
  };
}
