/**
 * Channel rules: how an op's output channels relate to its input channels. The rule type lives
 * in the op spec leaf (`src/ops/spec.ts`) beside the other facets; the ZIG partition
 * (`src/zig/partition.ts`) reads each op's rule from the registry and resolves it here.
 */
import type { ChannelRule, OpInfo } from "../ops/spec.ts";

export type { ChannelRule };

/** The concrete rule of one op application (resolves `byAttrs`). */
export function resolveRule<A>(rule: ChannelRule<A>, attrs: A, info: OpInfo): ChannelRule<A> {
  while (rule.kind === "byAttrs") rule = rule.rule(attrs, info);
  return rule;
}
