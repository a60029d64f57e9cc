/** Every op's user-facing function. Importing this registers all ops. */
export * from "./elementwise.ts";
export * from "./reduce.ts";
export * from "./movement.ts";
export * from "./matmul.ts";
export * from "./creation.ts";
