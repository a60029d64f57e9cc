/**
 * The tasks `deno task train` knows, by name.
 * @module
 */
import type { Task } from "../task.ts";
import { classification } from "./classification.ts";
import { superResolution } from "./super_resolution.ts";
import { segmentation } from "./segmentation.ts";

/** Every task, by `--task` name; the first is the default. */
export const TASKS: Readonly<Record<string, Task>> = {
  classification,
  "super-resolution": superResolution,
  segmentation,
};

/** The task a run uses. */
export function taskOf(name = "classification"): Task {
  const t = TASKS[name];
  if (!t) throw new Error(`unknown task "${name}"; choose one of ${Object.keys(TASKS).join(", ")}`);
  return t;
}
