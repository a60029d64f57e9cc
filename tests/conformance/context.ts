/** What every check of one sample of one op sees. */
import type { OpSpec } from "../../mod.ts";
import type { OpInfo, OpSample } from "../../src/ops/spec.ts";
import type { Input } from "./data.ts";
import type { RunResult } from "./run.ts";

export interface SampleContext {
  op: OpSpec<never>;
  sample: OpSample<unknown>;
  inputs: Input[];
  info: OpInfo;
  /** Inputs the gradient check differentiates (empty when the op has no gradient). */
  wrt: number[];
  /** The op on the cpu backend (the oracle), with gradients when `wrt` is not empty. */
  cpu: RunResult;
}

/** "op / sample" prefix of every message about this sample. */
export const where = (c: SampleContext, facet: string, backend = "cpu") =>
  `${c.op.name} / "${c.sample.name}" / ${backend} / ${facet}`;
