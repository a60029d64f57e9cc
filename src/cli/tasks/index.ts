/**
 * The tasks `deno task train` knows, by name.
 * @module
 */
import type { Task } from "../task.ts";
import { classification } from "./classification.ts";

/** Every task, by `--task` name; the first is the default. */
export const TASKS: Readonly<Record<string, Task>> = { classification };

/** The task a run uses. */
export function taskOf(name = "classification"): Task {
  const t = TASKS[name];
  if (!t) throw new Error(`unknown task "${name}"; choose one of ${Object.keys(TASKS).join(", ")}`);
  return t;
}
